"""``python -m feishu_msgres.testing``: the emulator, serving until stopped (see ``serve``)."""
from __future__ import annotations

import sys

from .serve import main

if __name__ == "__main__":
    sys.exit(main())
