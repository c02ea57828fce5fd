"""The command's arguments: its parser, the examples each sub-command shows, and the checks
of values that the library cannot make (``--output`` is relative, times parse)."""
from __future__ import annotations

import argparse
import datetime
import re
from typing import Any, Callable, Sequence

from .. import __version__
from ..endpoints import epoch_seconds
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
Times are ISO 8601 (local time unless an offset is given; a date alone starts --start-time at
its midnight and ends --end-time at its last second) or epoch seconds (milliseconds, Feishu's
unit, are read as such). A start after the end is refused.""",
    "dingtalk-download": """examples:
  export DINGTALK_APP_KEY=ding... DINGTALK_APP_SECRET=... DINGTALK_ROBOT_CODE=ding...
  feishu-msgres dingtalk-download --download-code "mIofN681YE3f..." --output files/
  feishu-msgres dingtalk-download --download-code "mIofN681YE3f..." --output report.pdf

--output is relative (no '..'); a folder (files/) gets the file's own name, with the extension of
its Content-Type (DingTalk's URLs end in .file).""",
    "download-all": """examples:
  feishu-msgres download-all --message-id om_xxx --output-dir attachments
  feishu-msgres download-all --message-id om_xxx --output-dir attachments | jq -r .saved_path""",
    "chats": """examples:
  feishu-msgres chats                                   # every group the app (or user) is in
  feishu-msgres chats --query 产品 --limit 5             # search visible chats by name
  feishu-msgres chats | jq -r '[.chat_id, .name] | @tsv'

One JSON line per chat: chat_id, name and what the API gives (description, owner_id,
external, chat_status …). The app needs the scope im:chat:readonly (or im:chat, im:chat:read)
and the bot ability; p2p chats are never listed.""",
    "messages": """examples:
  feishu-msgres messages --chat-id oc_xxx --limit 20                 # the 20 newest
  feishu-msgres messages --chat-id oc_xxx --sort asc --start-time 2024-06-01 --end-time 2024-06-30
  feishu-msgres messages --chat-id oc_xxx --expand-threads | jq -r '.text // empty'
  feishu-msgres messages --thread-id omt_xxx
  feishu-msgres messages --chat-id oc_xxx --limit 50 --page-token "$TOKEN"   # resume

stdout: one JSON line per message (as get prints it, plus "text", its plain text), so that
| jq sees messages only. stderr, at the end: one JSON line {"messages": N, "has_more": …,
"page_token": …}; pass that page_token as --page-token to go on where this run stopped.
--limit counts the chat's own messages; a thread's replies (--expand-threads) come with it.
Needs im:message:readonly (or im:message), plus im:message.group_msg to read group messages
as the bot; the bot must be in the chat (230002 otherwise).""",
    "emulator": """examples:
  feishu-msgres emulator                     # a realistic chat, on a free port
  feishu-msgres emulator --port 8080 --data chats.json

It prints the base URL, the credentials and the variables to export, and ids to try get,
download, messages, chats and export with; Ctrl-C (or SIGTERM) stops it. The --data file:
{"chats": [{"chat_id", "name", "description", "member", "public"}],
 "messages": [{"chat_id", "msg_type", "content", "message_id", "create_time", "sender_id",
               "resources": [{"file_key", "type", "path" or "text", "content_type", "filename"}],
               "children": [messages of a merge_forward]}],
 "realistic_chats": [{"chat_id", "n", "seed"}]}
("path" is relative to the JSON file; see README, "Trying the commands on the emulator").""",
}


def check_output(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--output`` and ``--output-dir`` as lark-cli checks ``--output``
    (``paths.output_problem``); a refusal is exit 2 with the sub-command's usage."""
    for name, flag in (("output", "--output"), ("output_dir", "--output-dir")):
        value = getattr(args, name, None)
        problem = None if value is None else output_problem(value, flag=flag)
        if problem is not None:
            subcommand(parser, args.command).error(problem)


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


DEBUG_HELP = "log each request, retry and resume on stderr (tokens and secrets never shown)"

# An epoch number past this is milliseconds, Feishu's own unit (create_time): in seconds it
# would be the year 5138.
MILLIS_FROM = 10 ** 11


def parse_time(text: str) -> Any:
    """``--start-time``: epoch seconds (or milliseconds), or ISO 8601 (``2024-01-01``,
    ``2024-01-01T08:00:00+08:00``)."""
    if re.match(r"^\d+(\.\d+)?$", text):
        value = float(text)
        return value / 1000 if value >= MILLIS_FROM else value
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            "not a time: %r (use 2024-01-31, 2024-01-31T08:00:00+08:00, epoch seconds or milliseconds)"
            % text) from None


def parse_end_time(text: str) -> Any:
    """``--end-time``: as ``parse_time``, but a date alone is the end of that day, so the
    named day is in the window (inclusive, as lark-cli reads it), not its first second."""
    value = parse_time(text)
    if isinstance(value, datetime.datetime) and re.match(r"^\d{4}-\d{2}-\d{2}$", text.strip()):
        return value + datetime.timedelta(days=1, seconds=-1)
    return value


def check_window(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A start after the end finds nothing, ever: refused (exit 2), not run to an empty result."""
    start, end = getattr(args, "start_time", None), getattr(args, "end_time", None)
    if start is not None and end is not None and epoch_seconds(start) > epoch_seconds(end):
        subcommand(parser, args.command).error("--start-time is after --end-time: the window is empty")


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
    parser.add_argument("-v", "--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    def sub(name: str, help_text: str, parents: Sequence[argparse.ArgumentParser] = ()) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text, epilog=EXAMPLES[name],
                                   parents=list(parents), formatter_class=argparse.RawDescriptionHelpFormatter)

    demo = sub("demo", "run get, download and download-all against the bundled emulator (offline)")
    demo.add_argument("--output-dir", help="where the files go (default: a new temporary folder)")
    connection = _connection()
    _add_feishu_commands(sub, connection)
    _add_listing_commands(sub, connection)
    _add_dingtalk_download(sub)
    _add_emulator(sub)
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
    # SUPPRESS: unset unless given here, so it never undoes a -v given before the sub-command
    group.add_argument("-v", "--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return connection


Sub = Callable[..., argparse.ArgumentParser]


def _add_feishu_commands(sub: Sub, connection: argparse.ArgumentParser) -> None:
    get = sub("get", "print a message as JSON, with its children and resources", [connection])
    get.add_argument("--message-id", required=True, help="the message (om_...)")
    get.add_argument("--user-id-type", choices=("open_id", "union_id", "user_id"), help="ids of users in the answer")
    get.add_argument("--dry-run", action="store_true", help="print the request(s), send nothing")
    get.add_argument("--tree", action="store_true",
                     help="a readable tree of the message and its forwarded children instead of JSON")

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
    export.add_argument("--end-time", type=parse_end_time, help="up to this time (inclusive; a date: all that day)")
    export.add_argument("--workers", type=_positive, default=4, help="downloads at once (default 4)")
    export.add_argument("--retry-failed", action="store_true",
                        help="try again what the service refused for good in earlier runs (234043, 234037 …)")

    every = sub("download-all", "download every resource of a message (and of forwarded ones)", [connection])
    every.add_argument("--message-id", required=True, help="the message (om_...)")
    every.add_argument("--output-dir", required=True, help="the folder to save into (created if missing)")
    every.add_argument("--overwrite", action="store_true", help="replace existing files")
    every.add_argument("--skip-existing", action="store_true",
                       help="keep a file already there with the same name and size (a rerun's), fetch nothing more")


def _page_size(limit: int) -> Callable[[str], int]:
    """A ``--page-size`` type: a whole number from 1 to ``limit`` (the endpoint's own bound)."""
    def page_size(text: str) -> int:
        value = _positive(text)
        if value > limit:
            raise argparse.ArgumentTypeError("at most %d: %r" % (limit, text))
        return value
    return page_size


def _add_listing_commands(sub: Sub, connection: argparse.ArgumentParser) -> None:
    chats = sub("chats", "list the chats the app (or user) is in, or search them by name", [connection])
    chats.add_argument("--query", help="search visible chats (its own and public ones) by this keyword")
    chats.add_argument("--page-size", type=_page_size(100), default=100, help="chats per request, 1-100")
    chats.add_argument("--limit", type=_positive, help="stop after this many chats")
    chats.add_argument("--user-id-type", choices=("open_id", "union_id", "user_id"), help="the owner_id's kind")

    messages = sub("messages", "list a chat's (or a thread's) messages as JSON lines", [connection])
    where = messages.add_mutually_exclusive_group(required=True)
    where.add_argument("--chat-id", help="the chat (oc_...)")
    where.add_argument("--thread-id", help="a thread (omt_...): its first message and replies")
    messages.add_argument("--start-time", type=parse_time, help="from this time (inclusive; not with --thread-id)")
    messages.add_argument("--end-time", type=parse_end_time,
                          help="up to this time (inclusive; a date: all that day; not with --thread-id)")
    messages.add_argument("--sort", choices=("asc", "desc"), default="desc",
                          help="desc: newest first (the default, as lark-cli); asc: oldest first")
    messages.add_argument("--page-size", type=_page_size(50), default=50, help="messages per request, 1-50")
    messages.add_argument("--limit", type=_positive, help="stop after this many messages (resume with --page-token)")
    messages.add_argument("--page-token", help="go on from here: the page_token an earlier run printed on stderr")
    messages.add_argument("--user-id-type", choices=("open_id", "union_id", "user_id"),
                          help="ids of senders and mentions (default open_id)")
    messages.add_argument("--expand-threads", action="store_true",
                          help="each thread's replies right after its first message (a chat lists only that)")


def _add_emulator(sub: Sub) -> None:
    emulator = sub("emulator", "serve the bundled Feishu emulator until stopped, to try the commands on")
    emulator.add_argument("--port", type=_port, default=0, help="the loopback port (default: a free one)")
    emulator.add_argument("--data", type=_data_file, metavar="FILE",
                          help="a JSON file of chats, messages and files (default: a realistic chat)")


def _port(text: str) -> int:
    from ..testing.serve import port_number  # loaded by this command only

    return port_number(text)


def _data_file(path: str) -> Any:
    """The ``--data`` file, read and checked now: a bad one is a usage error (exit 2)."""
    from ..testing.serve import data_file

    return data_file(path)


def _add_dingtalk_download(sub: Sub) -> None:
    ding = sub("dingtalk-download", "download the file of a DingTalk robot message (its downloadCode)")
    ding.add_argument("--download-code", required=True, help="the callback's downloadCode")
    ding.add_argument("--robot-code", help="the robot that got the message (DINGTALK_ROBOT_CODE)")
    ding.add_argument("--output", required=True, help="relative path, or folder/ for the file's own name")
    ding.add_argument("--overwrite", action="store_true", help="replace an existing file")
    ding.add_argument("--file-name", help="the callback's fileName: the name to save a folder/ download as "
                                           "(made safe; else the name the file store gives)")
    ding.add_argument("--app-key", help="the app's key (DINGTALK_APP_KEY)")
    ding.add_argument("--app-secret", help="the app's secret (DINGTALK_APP_SECRET; prefer the variable)")
    ding.add_argument("--base-url", help="another host (DINGTALK_BASE_URL; default https://api.dingtalk.com)")
    ding.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ding.add_argument("-v", "--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
