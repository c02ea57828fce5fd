"""``python -m feishu_msgres``: the same as the ``feishu-msgres`` command."""
import sys

from .cli import main

sys.exit(main())
