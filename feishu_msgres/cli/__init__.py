"""The ``feishu-msgres`` command (also ``python -m feishu_msgres``).

stdout carries results (JSON), stderr carries progress (on a terminal only) and errors.
Exit codes: 0 success, 2 usage error, 1 any other failure, 130 interrupted, 143 terminated
(SIGTERM), 129 hung up (SIGHUP: the ssh session that ran it dropped), 141 the reader of its
output went away (``| head``), quietly.
"""
from __future__ import annotations

import signal
import sys
from typing import Any, Optional, Sequence

from ..errors import FeishuError
from .commands import COMMANDS
from .output import PROG
from .parser import build_parser, check_output, check_window

__all__ = ["build_parser", "main"]


class Terminated(KeyboardInterrupt):
    """SIGTERM (kill, cron's timeout) and SIGHUP (a dropped ssh session) unwind like Ctrl-C,
    so temporary files are removed."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, frame: Any) -> None:
    raise Terminated(signum)


# The signals that end a run as Ctrl-C does (SIGHUP is not on Windows).
_ENDING = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_output(parser, args)
    check_window(parser, args)
    if getattr(args, "debug", False):
        _debug_logging()
    # A signal that is ignored stays ignored: ``nohup feishu-msgres export …`` outlives its terminal.
    previous = {signum: signal.signal(signum, _on_signal) for signum in _ENDING
                if signal.getsignal(signum) is not signal.SIG_IGN}
    try:
        return int(COMMANDS[args.command](args))
    except KeyboardInterrupt as exc:
        # The download in flight removed its temporary file on the way out.
        if isinstance(exc, Terminated):
            hung_up = exc.signum == getattr(signal, "SIGHUP", None)
            _say("\n%s: %s" % (PROG, "hung up" if hung_up else "terminated"))
            return 128 + exc.signum
        _say("\n%s: interrupted" % PROG)
        return 130
    except BrokenPipeError:  # ``… | head -1``: the reader has what it wanted
        _quiet_stdout()
        return 141  # as a Unix tool that SIGPIPE ends: 128 + 13
    except (FeishuError, OSError) as exc:  # OSError: the disk, not the network (full, read-only)
        print("%s: error: %s" % (PROG, _one_line(exc)), file=sys.stderr)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _debug_logging() -> None:
    """The library's own debug log (redacted at the source) on stderr; no other library's."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    log = logging.getLogger("feishu_msgres")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)


def _quiet_stdout() -> None:
    """Point stdout at nothing, so the interpreter's last flush at exit does not complain."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _say(text: str) -> None:
    """A last word on stderr, which a terminal that hung up no longer takes (EIO)."""
    try:
        print(text, file=sys.stderr)
    except OSError:
        pass


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
