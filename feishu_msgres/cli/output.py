"""What the command prints: results as JSON lines on stdout (one place builds them), and
progress bars on a terminal's stderr."""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Dict, Optional, TextIO, Tuple

from ..models import DownloadResult, Resource, ResourceDownload

PROG = "feishu-msgres"


def emit(data: Dict[str, Any], out: Optional[TextIO] = None) -> None:
    """One JSON object on one line of stdout, as it happens."""
    stream = out or sys.stdout
    stream.write(json.dumps(data, ensure_ascii=False) + "\n")
    stream.flush()


def emit_result(result: Any, out: Optional[TextIO] = None) -> None:
    """The JSON line of a saved file, a resource's outcome or an export's summary."""
    if isinstance(result, (DownloadResult, ResourceDownload)):
        emit(result.to_dict(), out)
    else:  # an ExportSummary
        emit({"output_dir": result.dest_dir, "messages": result.messages, "downloaded": result.downloaded,
              "skipped": result.skipped, "failed": result.failed, "refused": result.refused,
              "bytes": result.bytes}, out)


def wants_progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


class ProgressBar:
    """A one-line bar on a terminal's stderr; quiet when stderr is not a terminal."""

    def __init__(self, label: str, stream: TextIO) -> None:
        self.label = label if len(label) <= 32 else label[:31] + "…"
        self.stream = stream
        self.last = 0.0
        self.shown = False
        self.first: Optional[Tuple[float, int]] = None  # (when, bytes) of the first report
        self.pending: Optional[Tuple[int, Optional[int]]] = None  # a frame skipped by the throttle

    def __call__(self, done: int, total: Optional[int]) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = (now, done)
        if now - self.last < 0.1 and done != total:
            self.pending = (done, total)
            return
        self.last, self.pending = now, None
        self.show(self.frame(done, total, now))

    def frame(self, done: int, total: Optional[int], now: float) -> str:
        # The rate from the first bytes on, once half a second has passed: before, a first
        # chunk over a few microseconds reads as gigabytes a second.
        since, base = self.first or (now, done)
        rate = "%s/s" % size_text((done - base) / (now - since)) if now - since >= 0.5 else "…"
        if total:
            filled = int(24 * done / total)
            return "%-32s [%-24s] %3d%% %s/%s %s" % (
                self.label, "#" * filled, 100 * done // total, size_text(done), size_text(total), rate)
        return "%-32s %s %s" % (self.label, size_text(done), rate)

    def show(self, text: str) -> None:
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.pending is not None:  # the last state, which the throttle held back
            self.show(self.frame(self.pending[0], self.pending[1], time.monotonic()))
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


class ExportBar(ProgressBar):
    """Messages listed, files done / skipped / failed, bytes: one line on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__("export", stream)

    def __call__(self, counts: Any) -> None:  # type: ignore[override]
        self.counts = counts
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        self.show(self.line(counts))

    @staticmethod
    def line(counts: Any) -> str:
        return "%d messages | files: %d done, %d skipped, %d failed, %d refused, %d to go | %s" % (
            counts.messages, counts.downloaded, counts.skipped, counts.failed, counts.refused, counts.pending,
            size_text(counts.bytes))

    def close(self) -> None:
        counts = getattr(self, "counts", None)
        if counts is not None:  # the final counts, whatever the throttle held back
            self.show(self.line(counts))
        super().close()


def report_download_all(client: Any, message_id: str, folder: str, overwrite: bool = False,
                        progress: bool = False, out: Optional[TextIO] = None, skip_existing: bool = False) -> int:
    """Download every resource of a message, one JSON line each; returns how many failed."""
    bars: Dict[str, ProgressBar] = {}

    def report(res: Resource, done: int, total: Optional[int]) -> None:
        bar = bars.setdefault(res.file_key, ProgressBar(res.name or res.file_key, sys.stderr))
        bar(done, total)

    failed = 0
    for outcome in client.iter_download_all(message_id, folder, overwrite=overwrite,
                                            progress=report if progress else None, skip_existing=skip_existing):
        bar = bars.pop(outcome.resource.file_key, None)
        if bar is not None:
            bar.close()
        emit_result(outcome, out)
        failed += not outcome.ok
    return failed


def size_text(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0
    return "%d B" % n  # pragma: no cover - the loop always returns


def message_line(message: Any) -> Dict[str, Any]:
    """A message as ``messages`` prints it: ``get``'s JSON plus ``text``, its plain text."""
    return dict(message.to_dict(), text=message.text)


# How much of a message's text the tree shows: a tree is for looking, JSON for the whole.
TREE_TEXT_LINES = 3
TREE_TEXT_WIDTH = 100


def message_tree(message: Any) -> list[str]:
    """``get --tree``: the message, then its forwarded children nested under it, each with
    its type, time, sender, the start of its text and its resources."""
    return _node(message, "", "")


def _node(message: Any, first: str, rest: str) -> list[str]:
    """The lines of one message: ``first`` prefixes its header, ``rest`` every line after."""
    when = message.create_time.strftime("%Y-%m-%d %H:%M:%S UTC") if message.create_time else "-"
    who = message.sender.id or message.sender.sender_type or "-"
    flags = "".join(" (%s)" % f for f, on in (("recalled", message.deleted), ("edited", message.updated)) if on)
    lines = [first + "%s  %s  %s  %s%s" % (message.message_id, message.msg_type or "?", when, who, flags)]
    inner = rest + ("│   " if message.children else "    ")
    lines += [inner + text for text in _text_lines(message.text)]
    lines += [inner + "resource %s (%s%s)" % (r.file_key, r.type, ", " + r.name if r.name else "")
              for r in message.resources]
    for index, child in enumerate(message.children):
        last = index == len(message.children) - 1
        lines += _node(child, rest + ("└── " if last else "├── "), rest + ("    " if last else "│   "))
    return lines


def _text_lines(text: Optional[str]) -> list[str]:
    if not text:
        return []
    lines = [line for line in text.splitlines() if line.strip()]
    shown = [line if len(line) <= TREE_TEXT_WIDTH else line[:TREE_TEXT_WIDTH - 1] + "…"
             for line in lines[:TREE_TEXT_LINES]]
    if len(lines) > TREE_TEXT_LINES:
        shown.append("… (%d more lines)" % (len(lines) - TREE_TEXT_LINES))
    return shown
