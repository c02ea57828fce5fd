"""The ``feishu-msgres`` command (also ``python -m feishu_msgres``).

stdout carries results (JSON), stderr carries progress (on a terminal only) and errors.
Exit codes: 0 success, 2 usage error, 1 any other failure, 130 interrupted.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import signal
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO, Tuple

from . import __version__
from .client import Client, quote_id
from .download import PROBE_SIZE
from .errors import ConfigError, FeishuError
from .models import Resource, ResourceDownload
from .platforms import PLATFORMS

PROG = "feishu-msgres"
CREDENTIALS = "set FEISHU_APP_ID and FEISHU_APP_SECRET (the app), or FEISHU_USER_ACCESS_TOKEN (a user)"

EXAMPLES = {
    "demo": """examples:
  feishu-msgres demo                      # into a new temporary folder
  feishu-msgres demo --output-dir demo    # into ./demo""",
    "get": """examples:
  feishu-msgres get --message-id om_dc13264520392913993dd051dba21dcf
  feishu-msgres get --message-id om_xxx --user-id-type union_id | jq '.resources'""",
    "download": """examples:
  feishu-msgres download --message-id om_xxx --file-key img_v3_xxx --type image
  feishu-msgres download --message-id om_xxx --file-key file_v3_xxx --type file
  feishu-msgres download --message-id om_xxx --file-key img_v3_xxx --type image --output ./photo.png
  feishu-msgres download --message-id om_xxx --file-key img_v3_xxx --type image --output photos/cat
  feishu-msgres download --message-id om_xxx --file-key img_v3_xxx --type image --as bot
  feishu-msgres download --message-id om_xxx --file-key img_v3_xxx --type image --dry-run

--output is relative; without an extension it gets the server's (photos/cat -> photos/cat.png).
Without --output the server's file name is used, else the file_key plus an extension.""",
    "export": """examples:
  feishu-msgres export --chat-id oc_xxx --output-dir archive
  feishu-msgres export --chat-id oc_xxx --output-dir archive --start-time 2024-01-01 --end-time 2024-06-30T23:59:59
  feishu-msgres export --chat-id oc_xxx --output-dir archive --start-time 1704067200 --workers 8

Run it again to resume: complete files are skipped, failed ones retried, new messages fetched.
Times are ISO 8601 (a date alone is midnight, local time unless an offset is given) or epoch seconds.""",
    "dingtalk-download": """examples:
  export DINGTALK_APP_KEY=ding... DINGTALK_APP_SECRET=... DINGTALK_ROBOT_CODE=ding...
  feishu-msgres dingtalk-download --download-code "mIofN681YE3f..." --output files/
  feishu-msgres dingtalk-download --download-code "mIofN681YE3f..." --output report.pdf

--output is relative (no '..'); a folder (files/) gets the file's own name, with the extension of
its Content-Type (DingTalk's URLs end in .file).""",
    "download-all": """examples:
  feishu-msgres download-all --message-id om_xxx --output-dir attachments
  feishu-msgres download-all --message-id om_xxx --output-dir attachments | jq -r .saved_path""",
}


# -- output ----------------------------------------------------------------------------------


def emit(data: Dict[str, Any], out: Optional[TextIO] = None) -> None:
    """One JSON object on one line of stdout, as it happens."""
    stream = out or sys.stdout
    stream.write(json.dumps(data, ensure_ascii=False) + "\n")
    stream.flush()


class ProgressBar:
    """A one-line bar on a terminal's stderr; quiet when stderr is not a terminal."""

    def __init__(self, label: str, stream: TextIO) -> None:
        self.label = label if len(label) <= 32 else label[:31] + "…"
        self.stream = stream
        self.started = time.monotonic()
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: Optional[int]) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and done != total:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-6)
        if total:
            filled = int(24 * done / total)
            text = "%-32s [%-24s] %3d%% %s/%s %s/s" % (
                self.label, "#" * filled, 100 * done // total, _size(done), _size(total), _size(rate))
        else:
            text = "%-32s %s %s/s" % (self.label, _size(done), _size(rate))
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0
    return "%d B" % n  # pragma: no cover - the loop always returns


def _wants_progress(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


# -- configuration ---------------------------------------------------------------------------


def make_client(args: argparse.Namespace) -> Client:
    """A Client from the flags, falling back on the FEISHU_* environment variables.

    ``--as user`` uses the user token, ``--as bot`` the app; without ``--as``, the user
    token when one is configured, else the app.
    """
    app_id, secret, user_token = _credentials(args)
    identity = _identity(args, app_id, secret, user_token)
    platform = args.platform or os.environ.get("FEISHU_PLATFORM") or "feishu"
    base_url = args.base_url or os.environ.get("FEISHU_BASE_URL") or None
    if identity == "user":
        return Client(user_access_token=user_token, platform=platform, base_url=base_url)
    return Client(app_id, secret, platform=platform, base_url=base_url)


def _credentials(args: argparse.Namespace) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    env = os.environ
    return (
        args.app_id or env.get("FEISHU_APP_ID") or None,
        args.app_secret or env.get("FEISHU_APP_SECRET") or None,
        args.user_access_token or env.get("FEISHU_USER_ACCESS_TOKEN") or None,
    )


def _identity(args: argparse.Namespace, app_id: Optional[str], secret: Optional[str],
              user_token: Optional[str], strict: bool = True) -> str:
    if args.identity == "user":
        if not user_token and strict:
            raise ConfigError("--as user needs a user access token: set FEISHU_USER_ACCESS_TOKEN")
        return "user"
    if args.identity == "bot":
        if not (app_id and secret) and strict:
            raise ConfigError("--as bot needs the app's credentials: set FEISHU_APP_ID and FEISHU_APP_SECRET")
        return "bot"
    if user_token:
        return "user"
    if not (app_id and secret) and strict:
        raise ConfigError("no credentials: " + CREDENTIALS)
    return "bot"


def check_output(parser: argparse.ArgumentParser, output: Optional[str]) -> None:
    """Seed 002's rule: --output is relative and never climbs out with ``..``."""
    if output is None:
        return
    if not output.strip():
        parser.error("--output must not be empty")
    if os.path.isabs(output) or output.startswith("~") or (len(output) > 1 and output[1] == ":"):
        parser.error("--output must be a relative path, not %r" % output)
    parts = output.replace("\\", "/").split("/")
    if ".." in parts:
        parser.error("--output must not contain '..': %r" % output)


# -- commands ----------------------------------------------------------------------------------


def cmd_get(args: argparse.Namespace) -> int:
    if args.dry_run:
        return _dry_run(args, "GET", "message_path", (quote_id("message_id", args.message_id),),
                        {"user_id_type": args.user_id_type} if args.user_id_type else {}, {})
    with make_client(args) as client:
        message = client.get_message(args.message_id, user_id_type=args.user_id_type)
    print(json.dumps(message.to_dict(), ensure_ascii=False, indent=2))
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    quote_id("message_id", args.message_id)
    quote_id("file_key", args.file_key)
    if args.dry_run:
        headers = {"Accept-Encoding": "identity"}
        if args.type == "file":
            headers["Range"] = "bytes=0-%d" % (PROBE_SIZE - 1)
        return _dry_run(args, "GET", "resource_path", (args.message_id, args.file_key), {"type": args.type}, headers)
    dest = _download_dest(args.output)
    with make_client(args) as client:
        bar = ProgressBar(args.file_key, sys.stderr) if _wants_progress(args) else None
        try:
            result = client.download_resource(
                args.message_id, args.file_key, args.type, dest,
                overwrite=args.overwrite, progress=bar, checksum=True, add_extension=True,
            )
        finally:
            if bar is not None:
                bar.close()
    emit({
        "saved_path": os.path.normpath(result.path or ""),
        "size_bytes": result.size,
        "content_type": result.content_type,
        "sha256": result.sha256,
    })
    return 0


def _download_dest(output: Optional[str]) -> str:
    """A folder (None, ``dir/``, an existing folder) or a file path; folders are created."""
    if output is None:
        return "."
    if output.endswith(("/", os.sep)) or os.path.isdir(output):
        os.makedirs(output, exist_ok=True)
        return output
    parent = os.path.dirname(output)
    if parent:
        os.makedirs(parent, exist_ok=True)
    return output


def cmd_dingtalk_download(args: argparse.Namespace) -> int:
    from .dingtalk import DingTalkClient

    env = os.environ
    app_key = args.app_key or env.get("DINGTALK_APP_KEY")
    app_secret = args.app_secret or env.get("DINGTALK_APP_SECRET")
    if not (app_key and app_secret):
        raise ConfigError("no DingTalk credentials: set DINGTALK_APP_KEY and DINGTALK_APP_SECRET")
    robot_code = args.robot_code or env.get("DINGTALK_ROBOT_CODE")
    if not robot_code:
        raise ConfigError("no robot code: set DINGTALK_ROBOT_CODE or pass --robot-code")
    base_url = args.base_url or env.get("DINGTALK_BASE_URL") or "https://api.dingtalk.com"
    dest = _download_dest(args.output)
    with DingTalkClient(app_key, app_secret, robot_code, base_url=base_url) as client:
        bar = ProgressBar("dingtalk file", sys.stderr) if _wants_progress(args) else None
        try:
            result = client.download(args.download_code, dest, overwrite=args.overwrite, progress=bar, checksum=True)
        finally:
            if bar is not None:
                bar.close()
    emit({"saved_path": os.path.normpath(result.path or ""), "size_bytes": result.size,
          "content_type": result.content_type, "sha256": result.sha256})
    return 0


def cmd_download_all(args: argparse.Namespace) -> int:
    with make_client(args) as client:
        failed = run_download_all(client, args.message_id, args.output_dir, args.overwrite, _wants_progress(args))
    if failed:
        print("%s: %d resource(s) failed: see the \"error\" lines above" % (PROG, failed), file=sys.stderr)
        return 1
    return 0


def run_download_all(client: Client, message_id: str, folder: str, overwrite: bool = False,
                     progress: bool = False, out: Optional[TextIO] = None) -> int:
    """Download every resource of a message, one JSON line each; returns how many failed."""
    bars: Dict[str, ProgressBar] = {}

    def report(res: Resource, done: int, total: Optional[int]) -> None:
        bar = bars.setdefault(res.file_key, ProgressBar(res.name or res.file_key, sys.stderr))
        bar(done, total)

    failed = 0
    for outcome in client.iter_download_all(message_id, folder, overwrite=overwrite,
                                            progress=report if progress else None):
        bar = bars.pop(outcome.resource.file_key, None)
        if bar is not None:
            bar.close()
        emit(_outcome_line(outcome), out)
        failed += not outcome.ok
    return failed


def cmd_export(args: argparse.Namespace) -> int:
    bar = ExportBar(sys.stderr) if _wants_progress(args) else None
    with make_client(args) as client:
        try:
            summary = client.export_chat(args.chat_id, args.output_dir, start_time=args.start_time,
                                         end_time=args.end_time, workers=args.workers, progress=bar)
        finally:
            if bar is not None:
                bar.close()
    emit({"output_dir": summary.dest_dir, "messages": summary.messages, "downloaded": summary.downloaded,
          "skipped": summary.skipped, "failed": summary.failed, "bytes": summary.bytes})
    if not summary.ok:
        print("%s: %d resource(s) failed: see the lines with \"error\" in %s" % (
            PROG, summary.failed, os.path.join(summary.dest_dir, "manifest.jsonl")), file=sys.stderr)
        return 1
    return 0


class ExportBar(ProgressBar):
    """Messages listed, files done / skipped / failed, bytes: one line on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__("export", stream)

    def __call__(self, counts: Any) -> None:  # type: ignore[override]
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        text = "%d messages | files: %d done, %d skipped, %d failed, %d to go | %s" % (
            counts.messages, counts.downloaded, counts.skipped, counts.failed, counts.pending, _size(counts.bytes))
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()
        self.shown = True


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("a whole number, at least 1: %r" % text)
    return value


def parse_time(text: str) -> Any:
    """``--start-time``: epoch seconds, or ISO 8601 (``2024-01-01``, ``2024-01-01T08:00:00+08:00``)."""
    if re.match(r"^\d+(\.\d+)?$", text):
        return float(text)
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            "not a time: %r (use 2024-01-31, 2024-01-31T08:00:00+08:00 or epoch seconds)" % text) from None


def _outcome_line(outcome: ResourceDownload) -> Dict[str, Any]:
    data = outcome.to_dict()
    if data.get("saved_path"):
        data["saved_path"] = os.path.normpath(data["saved_path"])
    return data


def _dry_run(args: argparse.Namespace, method: str, endpoint: str, ids: Tuple[str, ...], query: Dict[str, str],
             headers: Dict[str, str]) -> int:
    """Print the requests a command would send, tokens and secrets as ***; send nothing."""
    app_id, secret, user_token = _credentials(args)
    identity = _identity(args, app_id, secret, user_token, strict=False)
    platform = args.platform or os.environ.get("FEISHU_PLATFORM") or "feishu"
    if platform not in PLATFORMS:
        raise ConfigError("unknown platform %r (choose one of: %s)" % (platform, ", ".join(sorted(PLATFORMS))))
    spec = PLATFORMS[platform]
    base_url = (args.base_url or os.environ.get("FEISHU_BASE_URL") or spec.base_url).rstrip("/")
    template = getattr(spec, endpoint)
    if template is None:
        raise ConfigError("the %s platform documents no endpoint for this" % platform)
    path = template % ids
    sent: List[Dict[str, Any]] = []
    if identity == "bot":
        sent.append({"method": "POST", "url": base_url + spec.token_path, "query": {},
                     "body": {"app_id": app_id or "(FEISHU_APP_ID)", "app_secret": "***"}})
    sent.append({"method": method, "url": base_url + path, "query": query,
                 "headers": dict(headers, Authorization="Bearer ***")})
    note = "as %s; nothing was sent" % ("the app (tenant_access_token)" if identity == "bot" else "the user")
    if headers.get("Range"):
        note += "; further Range requests follow up to the size the first answer gives"
    emit({"dry_run": True, "identity": identity, "requests": sent, "note": note})
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import sample_emulator

    folder = args.output_dir or tempfile.mkdtemp(prefix="feishu-msgres-demo-")
    os.makedirs(folder, exist_ok=True)
    emu, ids = sample_emulator()
    say = print
    with emu:
        say("Started the bundled Feishu emulator at %s: offline, no credentials needed." % emu.url)
        say("It holds a chat with a text, an image, a file with a Chinese name, a post, a video and a")
        say("forwarded message. Each step shows the command you would run against the real Feishu.\n")
        with emu.client() as client:
            say("$ %s get --message-id %s" % (PROG, ids["post"]))
            post = client.get_message(ids["post"])
            say("  a %s message, %r, with %d image(s): %s\n" % (
                post.msg_type, post.content.get("title"), len(post.resources),
                ", ".join(r.file_key for r in post.resources)))

            say("$ cd %s && %s download --message-id %s --file-key file_v3_demo_report --type file" % (
                folder, PROG, ids["file"]))
            result = client.download_resource(ids["file"], "file_v3_demo_report", "file", folder, checksum=True)
            emit({"saved_path": result.path, "size_bytes": result.size, "content_type": result.content_type,
                  "sha256": result.sha256})
            say("")
            for key in ("media", "post", "forward"):
                say("$ %s download-all --message-id %s --output-dir %s" % (PROG, ids[key], folder))
                failed = run_download_all(client, ids[key], folder)
                if key == "forward" and failed:
                    say("  (Feishu does not serve resources of forwarded messages: the refusal is reported per"
                        " resource, and the command would exit 1)")
                say("")
        requests_seen = len(emu.requests)
    _demo_neighbours(folder, say)
    say("The Feishu emulator answered %d requests (one token for all of them). Files are in %s:"
        % (requests_seen, folder))
    for name in sorted(os.listdir(folder)):
        say("  %-24s %10d bytes" % (name, os.path.getsize(os.path.join(folder, name))))
    say("\nNext, against the real Feishu: export FEISHU_APP_ID=cli_... FEISHU_APP_SECRET=... and run")
    say("  %s get --message-id om_...      (then download --message-id ... --file-key ... --type ...)" % PROG)
    return 0


def _demo_neighbours(folder: str, say: Callable[..., None]) -> None:
    """The same client against the BOSS Hi gateway's dialect, and a DingTalk robot file."""
    from .demo import png
    from .testing import FeishuEmulator
    from .testing.dingtalk import DingTalkEmulator

    with FeishuEmulator(dialect="bosshi") as hi, hi.client() as client:
        mid = hi.add_message("text", {"text": "来自 BOSS Hi 的消息"})
        say("$ FEISHU_PLATFORM=bosshi %s get --message-id %s" % (PROG, mid))
        message = client.get_message(mid)
        say("  a %s message from the BOSS Hi gateway's dialect: %r\n" % (message.msg_type, message.text))
    with DingTalkEmulator() as ding, ding.client() as dingtalk:
        ding.add_file("demo-download-code", png(rgb=(255, 200, 0)), content_type="image/png")
        say("$ cd %s && %s dingtalk-download --download-code demo-download-code --output ./" % (folder, PROG))
        result = dingtalk.download("demo-download-code", folder, checksum=True)
        emit({"saved_path": result.path, "size_bytes": result.size, "content_type": result.content_type,
              "sha256": result.sha256})
        seen = [r.headers for r in ding.requests if r.kind == "file"]
        leaked = any(k.lower() in ("authorization", "x-acs-dingtalk-access-token") for h in seen for k in h)
        say("  (the object store that served it %s the access token)\n" % ("SAW" if leaked else "never saw"))


# -- parser --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Get chat messages and their attachments out of Feishu / Lark.",
        epilog="Credentials come from FEISHU_APP_ID and FEISHU_APP_SECRET (or FEISHU_USER_ACCESS_TOKEN);\n"
               "FEISHU_BASE_URL and FEISHU_PLATFORM pick the host. Flags override them.\n"
               "Start with: feishu-msgres demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="%s %s" % (PROG, __version__))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    connection = argparse.ArgumentParser(add_help=False)
    group = connection.add_argument_group("connection (flags override the FEISHU_* variables)")
    group.add_argument("--app-id", help="the app's id (FEISHU_APP_ID)")
    group.add_argument("--app-secret", help="the app's secret (FEISHU_APP_SECRET; prefer the variable)")
    group.add_argument("--user-access-token", help="act as a user (FEISHU_USER_ACCESS_TOKEN)")
    group.add_argument("--platform", choices=sorted(PLATFORMS), help="feishu, lark or bosshi (FEISHU_PLATFORM)")
    group.add_argument("--base-url", help="another host, e.g. http://127.0.0.1:8080 (FEISHU_BASE_URL)")
    group.add_argument("--as", dest="identity", choices=("user", "bot"),
                       help="user: the user token; bot: the app's tenant token "
                            "(default: the user token when one is configured, else the app)")
    group.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    def sub(name: str, help_text: str, parents: Sequence[argparse.ArgumentParser] = ()) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text, epilog=EXAMPLES[name],
                                   parents=list(parents), formatter_class=argparse.RawDescriptionHelpFormatter)

    demo = sub("demo", "run get, download and download-all against the bundled emulator (offline)")
    demo.add_argument("--output-dir", help="where the files go (default: a new temporary folder)")
    demo.set_defaults(func=cmd_demo)

    get = sub("get", "print a message as JSON, with its children and resources", [connection])
    get.add_argument("--message-id", required=True, help="the message (om_...)")
    get.add_argument("--user-id-type", choices=("open_id", "union_id", "user_id"), help="ids of users in the answer")
    get.add_argument("--dry-run", action="store_true", help="print the request(s), send nothing")
    get.set_defaults(func=cmd_get)

    download = sub("download", "download one image or file of a message", [connection])
    download.add_argument("--message-id", required=True, help="the message (om_...)")
    download.add_argument("--file-key", required=True, help="the resource key (img_... or file_...)")
    download.add_argument("--type", required=True, choices=("image", "file"),
                          help="image for images; file for files, audio and video")
    download.add_argument("--output", help="relative path or folder/ (default: the server's name, here)")
    download.add_argument("--overwrite", action="store_true", help="replace an existing file")
    download.add_argument("--dry-run", action="store_true", help="print the request(s), send nothing")
    download.set_defaults(func=cmd_download)

    export = sub("export", "export every attachment of a chat's history (resumable)", [connection])
    export.add_argument("--chat-id", required=True, help="the chat (oc_...)")
    export.add_argument("--output-dir", required=True, help="the export's folder (created if missing)")
    export.add_argument("--start-time", type=parse_time, help="from this time (inclusive)")
    export.add_argument("--end-time", type=parse_time, help="up to this time (inclusive)")
    export.add_argument("--workers", type=_positive, default=4, help="downloads at once (default 4)")
    export.set_defaults(func=cmd_export)

    ding = sub("dingtalk-download", "download the file of a DingTalk robot message (its downloadCode)")
    ding.add_argument("--download-code", required=True, help="the callback's downloadCode")
    ding.add_argument("--robot-code", help="the robot that got the message (DINGTALK_ROBOT_CODE)")
    ding.add_argument("--output", required=True, help="relative path, or folder/ for the file's own name")
    ding.add_argument("--overwrite", action="store_true", help="replace an existing file")
    ding.add_argument("--app-key", help="the app's key (DINGTALK_APP_KEY)")
    ding.add_argument("--app-secret", help="the app's secret (DINGTALK_APP_SECRET; prefer the variable)")
    ding.add_argument("--base-url", help="another host (DINGTALK_BASE_URL; default https://api.dingtalk.com)")
    ding.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ding.set_defaults(func=cmd_dingtalk_download)

    every = sub("download-all", "download every resource of a message (and of forwarded ones)", [connection])
    every.add_argument("--message-id", required=True, help="the message (om_...)")
    every.add_argument("--output-dir", required=True, help="the folder to save into (created if missing)")
    every.add_argument("--overwrite", action="store_true", help="replace existing files")
    every.set_defaults(func=cmd_download_all)
    return parser


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
        return int(args.func(args))
    except KeyboardInterrupt as exc:
        # The download in flight removed its temporary file on the way out.
        print("\n%s: %s" % (PROG, "terminated" if isinstance(exc, Terminated) else "interrupted"), file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except FeishuError as exc:
        print("%s: error: %s" % (PROG, _one_line(exc)), file=sys.stderr)
        return 1
    except OSError as exc:  # the disk, not the network: full, read-only, no permission
        print("%s: error: %s" % (PROG, _one_line(exc)), file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
