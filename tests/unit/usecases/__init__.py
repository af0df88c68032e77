"""The use cases on the in-memory ports (tests/fakes.py), the state machine played by hand (machine.py)."""
