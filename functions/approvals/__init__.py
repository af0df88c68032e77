"""Runtime of the approval flows: domain rules, AWS adapters and Lambda handlers."""
