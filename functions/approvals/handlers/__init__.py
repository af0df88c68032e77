"""Lambda entry points: thin shells that parse and log, then call the use case (approvals.machine,
approvals.commands, approvals.sweeps)."""
