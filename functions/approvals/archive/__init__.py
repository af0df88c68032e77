"""The archive of finished approvals: writing one, sealed and signed (then letting its table items
expire), reading one back, and checking one (`python -m approvals.archive verify`)."""
