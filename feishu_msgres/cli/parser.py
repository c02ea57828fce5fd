"""The command's arguments: its parser, the examples each sub-command shows, and the checks
of values that the library cannot make (``--output`` is relative, times parse)."""
from __future__ import annotations

import argparse
import datetime
import re
from typing import Any, Callable, Optional, Sequence

from .. import __version__
from ..platforms import PLATFORMS
from .output import PROG
from .paths import output_problem

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
What the service refuses for good (234043, 234037, 230110, 234003) is recorded once and not
retried (--retry-failed does); the exit status is 1 only for what a rerun could still fetch.
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


def check_output(parser: argparse.ArgumentParser, command: str, output: Optional[str]) -> None:
    """``--output`` as lark-cli checks it (``paths.output_problem``); a refusal is exit 2 with
    the sub-command's usage."""
    if output is None:
        return
    problem = output_problem(output)
    if problem is not None:
        subcommand(parser, command).error(problem)


def subcommand(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The parser of sub-command ``name`` (its usage is the one to show)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            return action.choices[name]  # type: ignore[no-any-return]
    return parser


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


def build_parser() -> argparse.ArgumentParser:
    """The parser; ``args.command`` names the sub-command to run."""
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

    def sub(name: str, help_text: str, parents: Sequence[argparse.ArgumentParser] = ()) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text, epilog=EXAMPLES[name],
                                   parents=list(parents), formatter_class=argparse.RawDescriptionHelpFormatter)

    demo = sub("demo", "run get, download and download-all against the bundled emulator (offline)")
    demo.add_argument("--output-dir", help="where the files go (default: a new temporary folder)")
    _add_feishu_commands(sub, _connection())
    _add_dingtalk_download(sub)
    return parser


def _connection() -> argparse.ArgumentParser:
    """The flags every Feishu command shares; each overrides its variable of ``Client.ENV``."""
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
    return connection


Sub = Callable[..., argparse.ArgumentParser]


def _add_feishu_commands(sub: Sub, connection: argparse.ArgumentParser) -> None:
    get = sub("get", "print a message as JSON, with its children and resources", [connection])
    get.add_argument("--message-id", required=True, help="the message (om_...)")
    get.add_argument("--user-id-type", choices=("open_id", "union_id", "user_id"), help="ids of users in the answer")
    get.add_argument("--dry-run", action="store_true", help="print the request(s), send nothing")

    download = sub("download", "download one image or file of a message", [connection])
    download.add_argument("--message-id", required=True, help="the message (om_...)")
    download.add_argument("--file-key", required=True, help="the resource key (img_... or file_...)")
    download.add_argument("--type", required=True, choices=("image", "file"),
                          help="image for images; file for files, audio and video")
    download.add_argument("--output", help="relative path or folder/ (default: the server's name, here)")
    download.add_argument("--overwrite", action="store_true", help="replace an existing file")
    download.add_argument("--skip-existing", action="store_true",
                          help="keep a file already there with the same name and size, fetch nothing more")
    download.add_argument("--dry-run", action="store_true", help="print the request(s), send nothing")

    export = sub("export", "export every attachment of a chat's history (resumable)", [connection])
    export.add_argument("--chat-id", required=True, help="the chat (oc_...)")
    export.add_argument("--output-dir", required=True, help="the export's folder (created if missing)")
    export.add_argument("--start-time", type=parse_time, help="from this time (inclusive)")
    export.add_argument("--end-time", type=parse_time, help="up to this time (inclusive)")
    export.add_argument("--workers", type=_positive, default=4, help="downloads at once (default 4)")
    export.add_argument("--retry-failed", action="store_true",
                        help="try again what the service refused for good in earlier runs (234043, 234037 …)")

    every = sub("download-all", "download every resource of a message (and of forwarded ones)", [connection])
    every.add_argument("--message-id", required=True, help="the message (om_...)")
    every.add_argument("--output-dir", required=True, help="the folder to save into (created if missing)")
    every.add_argument("--overwrite", action="store_true", help="replace existing files")
    every.add_argument("--skip-existing", action="store_true",
                       help="keep a file already there with the same name and size (a rerun's), fetch nothing more")


def _add_dingtalk_download(sub: Sub) -> None:
    ding = sub("dingtalk-download", "download the file of a DingTalk robot message (its downloadCode)")
    ding.add_argument("--download-code", required=True, help="the callback's downloadCode")
    ding.add_argument("--robot-code", help="the robot that got the message (DINGTALK_ROBOT_CODE)")
    ding.add_argument("--output", required=True, help="relative path, or folder/ for the file's own name")
    ding.add_argument("--overwrite", action="store_true", help="replace an existing file")
    ding.add_argument("--app-key", help="the app's key (DINGTALK_APP_KEY)")
    ding.add_argument("--app-secret", help="the app's secret (DINGTALK_APP_SECRET; prefer the variable)")
    ding.add_argument("--base-url", help="another host (DINGTALK_BASE_URL; default https://api.dingtalk.com)")
    ding.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
