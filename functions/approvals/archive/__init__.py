"""The archive of finished approvals: writing one (then letting its table items expire), reading
one back, and checking one against its hash chain (`python -m approvals.archive verify`)."""
