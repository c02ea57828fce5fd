"""Where the command may write: ``--output`` checked as lark-cli's ``SafeOutputPath`` checks it
(relative, no ``..``, no control or spoofing characters, and still inside the working folder
once links are resolved, also a link in an ancestor when the rest does not exist yet)."""
from __future__ import annotations

import os
from typing import Optional

from .._names import spoofing_or_control


def output_problem(output: str, cwd: Optional[str] = None) -> Optional[str]:
    """Why ``output`` may not be written to, or None when it may."""
    if not output.strip():
        return "--output must not be empty"
    bad = spoofing_or_control(output)
    if bad is not None:
        return "--output holds %s (U+%04X): %r" % (bad[1], ord(bad[0]), output)
    if os.path.isabs(output) or output.startswith("~") or (len(output) > 1 and output[1] == ":"):
        return "--output must be a relative path, not %r" % output
    parts = [p for p in output.replace("\\", "/").split("/") if p != ""]
    if ".." in parts:
        return "--output must not contain '..': %r" % output
    for part in parts:
        if part != part.strip():
            return "--output has a name that begins or ends with a space: %r" % part
    here = os.path.realpath(cwd or os.getcwd())
    # realpath resolves the links of what exists and keeps the rest: an ancestor that is a
    # link to elsewhere is caught even when the folders under it are still to be made.
    there = os.path.realpath(os.path.join(here, output))
    if there != here and not there.startswith(here.rstrip(os.sep) + os.sep):
        return "--output %r resolves outside the working folder (through a link)" % output
    return None
