"""How one change to an approval is made: read-modify-write on its revision (one transaction with
its stages and events), then its settled stages' tokens completed and its events published. The
service depends on the interfaces in `ports` (the adapters implement them)."""
