"""`python -m approvals.archive verify FILE|s3://bucket/key` and `... public-key`."""

from __future__ import annotations

import sys

from .verify import main

sys.exit(main())
