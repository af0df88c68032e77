"""What the state machine calls (docs/state-machine-contract.md): open a human step, record a
timeout, notify, finish a run. Each is idempotent: a Lambda invocation may be repeated by a Retry."""
