"""The ``feishu-msgres`` command (also ``python -m feishu_msgres``).

stdout carries results (JSON), stderr carries progress (on a terminal only) and errors.
Exit codes: 0 success, 2 usage error, 1 any other failure, 130 interrupted, 143 terminated.
"""
from __future__ import annotations

import signal
import sys
from typing import Any, Optional, Sequence

from ..errors import FeishuError
from .commands import COMMANDS
from .output import PROG
from .parser import build_parser, check_output

__all__ = ["build_parser", "main"]


class Terminated(KeyboardInterrupt):
    """SIGTERM (kill, cron's timeout) unwinds like Ctrl-C, so temporary files are removed."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("download", "dingtalk-download"):
        check_output(parser, args.output)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return int(COMMANDS[args.command](args))
    except KeyboardInterrupt as exc:
        # The download in flight removed its temporary file on the way out.
        print("\n%s: %s" % (PROG, "terminated" if isinstance(exc, Terminated) else "interrupted"), file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except (FeishuError, OSError) as exc:  # OSError: the disk, not the network (full, read-only)
        print("%s: error: %s" % (PROG, _one_line(exc)), file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
