"""What SweepFunction does every 5 minutes: reminders due, tokens left behind, approvals not yet
started, events EventBridge refused."""
