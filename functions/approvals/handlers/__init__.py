"""Lambda entry points: thin shells that log, then call the runtime (approvals.lifecycle)."""
