"""Where the command may write: ``--output`` and ``--output-dir`` checked by one rule, lark-cli's
``SafeOutputPath`` (relative, no ``..``, no control or spoofing characters, and still inside
the working folder once links are resolved, also a link in an ancestor when the rest does
not exist yet)."""
from __future__ import annotations

import os
from typing import Optional

from .._names import spoofing_or_control


def output_problem(output: str, cwd: Optional[str] = None, flag: str = "--output") -> Optional[str]:
    """Why ``output`` may not be written to, or None when it may (``flag`` names it: the same
    rule holds for ``--output-dir``)."""
    if not output.strip():
        return "%s must not be empty" % flag
    bad = spoofing_or_control(output)
    if bad is not None:
        return "%s holds %s (U+%04X): %r" % (flag, bad[1], ord(bad[0]), output)
    if os.path.isabs(output) or output.startswith("~") or (len(output) > 1 and output[1] == ":"):
        return "%s must be a relative path (cd to where it goes first), not %r" % (flag, output)
    parts = [p for p in output.replace("\\", "/").split("/") if p != ""]
    if ".." in parts:
        return "%s must not contain '..': %r" % (flag, output)
    for part in parts:
        if part != part.strip():
            return "%s has a name that begins or ends with a space: %r" % (flag, part)
    here = os.path.realpath(cwd or os.getcwd())
    # realpath resolves the links of what exists and keeps the rest: an ancestor that is a
    # link to elsewhere is caught even when the folders under it are still to be made.
    there = os.path.realpath(os.path.join(here, output))
    if there != here and not there.startswith(here.rstrip(os.sep) + os.sep):
        return "%s %r resolves outside the working folder (through a link)" % (flag, output)
    return None
