"""A Feishu emulator that serves until stopped, to try the command (or your own code) on:
``feishu-msgres emulator`` and ``python -m feishu_msgres.testing``.

It prints where it listens, the credentials and variables to use, and ids to try, then
serves until Ctrl-C or SIGTERM, and exits 0 then: stopping it is how it is meant to end.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, TextIO

from .datafile import Data, DataError, fill, load
from .emulator import FeishuEmulator

PROG = "feishu-msgres"
REALISTIC_CHAT = "oc_realistic"


def port_number(text: str) -> int:
    """``--port``: 0 to 65535, 0 for a free one (an argparse type)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port number, 0 to 65535 (0: a free one): %r" % text)
    return value


def data_file(path: str) -> Data:
    """``--data``: the file read and checked at once, so a bad one is a usage error."""
    try:
        return load(path)
    except DataError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build(port: int = 0, data: Optional[Data] = None) -> FeishuEmulator:
    """An emulator on loopback ``port`` (not started) with ``data``, else a realistic chat.
    A port already taken is an OSError."""
    emu = FeishuEmulator(port=port)
    if data is not None:
        fill(emu, data)
    else:
        emu.add_realistic_chat(REALISTIC_CHAT, n=150, seed=0)
    return emu


def samples(emu: FeishuEmulator) -> Dict[str, Any]:
    """Ids to try: the first chat, and a message with a file, one with an image, a forward."""
    found: Dict[str, Any] = {}
    with emu._lock:
        chats = list(emu._chats) + [str(m.get("chat_id")) for m in emu._messages.values()]
        messages = list(emu._messages.values())
        resources = dict(emu._resources)
    found["chat_id"] = chats[0] if chats else None
    for item in messages:
        if item.get("upper_message_id") or item.get("deleted"):
            continue  # forwarded children and recalled messages serve no files (seed 000)
        if item.get("msg_type") == "merge_forward":
            found.setdefault("forward", item["message_id"])
        for (message_id, key), res in resources.items():
            if message_id == item["message_id"] and res["type"] in ("file", "image"):
                found.setdefault(res["type"], (message_id, key))
    return found


def banner(emu: FeishuEmulator, ids: Dict[str, Any]) -> List[str]:
    """What the command prints once it listens: plain lines a person copies from."""
    lines = ["Feishu emulator serving at %s (Ctrl-C to stop)" % emu.url, "",
             "Use it from this shell (its own credentials, nothing real):",
             "  export FEISHU_BASE_URL=%s" % emu.url,
             "  export FEISHU_APP_ID=%s" % emu.app_id,
             "  export FEISHU_APP_SECRET=%s" % emu.app_secret,
             "  unset FEISHU_USER_ACCESS_TOKEN FEISHU_PLATFORM", "", "Then try:", "  %s chats" % PROG]
    if ids.get("chat_id"):
        lines.append("  %s messages --chat-id %s --limit 5" % (PROG, ids["chat_id"]))
    if ids.get("forward"):
        lines.append("  %s get --message-id %s --tree          # a forwarded message" % (PROG, ids["forward"]))
    for kind in ("file", "image"):
        if ids.get(kind):
            lines.append("  %s download --message-id %s --file-key %s --type %s" % ((PROG,) + ids[kind] + (kind,)))
    if ids.get("chat_id"):
        lines.append("  %s export --chat-id %s --output-dir archive" % (PROG, ids["chat_id"]))
    return lines


def serve(emu: FeishuEmulator, out: Optional[TextIO] = None) -> int:
    """Start ``emu``, print the banner and serve until interrupted (KeyboardInterrupt, which
    SIGTERM raises too); then stop it and return 0."""
    stream = out or sys.stdout
    emu.start()
    try:
        stream.write("\n".join(banner(emu, samples(emu))) + "\n")
        stream.flush()  # a pipe (a test, a log) sees it now, not when the buffer fills
        while True:
            time.sleep(60)
    except KeyboardInterrupt:
        return 0
    finally:
        emu.stop()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m feishu_msgres.testing [--port N] [--data FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m feishu_msgres.testing",
                                     description="Serve the Feishu emulator until stopped (Ctrl-C or SIGTERM).")
    parser.add_argument("--port", type=port_number, default=0, help="the loopback port (default: a free one)")
    parser.add_argument("--data", type=data_file, metavar="FILE",
                        help="a JSON file of chats, messages and files (default: a realistic chat)")
    args = parser.parse_args(argv)
    try:
        emu = build(args.port, args.data)
    except OSError as exc:  # the port is taken, or not ours to take
        print("%s: error: %s" % (parser.prog, cannot_listen(args.port, exc)), file=sys.stderr)
        return 1
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return serve(emu)
    finally:
        signal.signal(signal.SIGTERM, previous)


def cannot_listen(port: int, exc: OSError) -> str:
    return "cannot listen on port %d: %s" % (port, exc.strerror or exc)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
