"""The sub-commands, each a thin function over the library: settings from the flags over
the clients' own tables of environment variables, the dry run from the client's own plan,
results as JSON lines through ``output``."""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
from typing import Any, Callable, Dict, Iterator, NoReturn, Optional, Tuple

from .. import endpoints
from ..client import Client
from ..endpoints import Call
from ..errors import ConfigError
from ..filestore import FileTokenStore, default_path
from ..models import Message
from ..platforms import Platform, platform_named
from ..usertoken import ENV_REFRESH_TOKEN
from .output import (
    PROG,
    ExportBar,
    ProgressBar,
    emit,
    emit_result,
    message_line,
    message_tree,
    report_download_all,
    wants_progress,
)

CREDENTIALS = "set FEISHU_APP_ID and FEISHU_APP_SECRET (the app), or FEISHU_USER_ACCESS_TOKEN (a user)"


def settings(cls: Any, args: argparse.Namespace) -> Dict[str, Any]:
    """A client's keyword arguments: its environment variables (``cls.ENV``), flags over them."""
    values: Dict[str, Any] = cls.env_settings()
    values.update({kw: getattr(args, kw) for kw in cls.ENV if getattr(args, kw, None)})
    return values


def feishu_settings(args: argparse.Namespace, strict: bool = True) -> Tuple[str, Dict[str, Any]]:
    """``(identity, Client keywords)``: ``--as user`` uses the user token, ``--as bot`` the
    app; without ``--as``, the user token when one is configured, else the app."""
    values = settings(Client, args)
    user, app = values.pop("user_access_token", None), (values.get("app_id"), values.get("app_secret"))
    refresh = os.environ.get(ENV_REFRESH_TOKEN) or None
    identity = args.identity or ("user" if user or refresh else "bot")
    if identity == "user" and refresh:
        return identity, _refreshing_user(values, user, refresh, app, strict)
    if identity == "user":
        if not user and strict:
            raise ConfigError("--as user needs a user token: set FEISHU_USER_ACCESS_TOKEN, or "
                              "FEISHU_USER_REFRESH_TOKEN with the app's credentials")
        values = {k: v for k, v in values.items() if k not in ("app_id", "app_secret")}
        values["user_access_token"] = user or "(FEISHU_USER_ACCESS_TOKEN)"
    elif not all(app) and strict:
        raise ConfigError("--as bot needs the app's credentials: set FEISHU_APP_ID and FEISHU_APP_SECRET"
                          if args.identity else "no credentials: " + CREDENTIALS)
    else:  # a dry run shows where missing credentials would go
        values.setdefault("app_id", "(FEISHU_APP_ID)")
        values.setdefault("app_secret", "(FEISHU_APP_SECRET)")
    return identity, values


def _refreshing_user(values: Dict[str, Any], user: Optional[str], refresh: str, app: Tuple[Any, Any],
                     strict: bool) -> Dict[str, Any]:
    """A user whose token is refreshed: the app's credentials refresh it, and every rotated
    pair goes to the token file, where the next run starts from it (a refresh token serves
    once: without the file the next run would hold a spent one)."""
    if not all(app) and strict:
        raise ConfigError("FEISHU_USER_REFRESH_TOKEN needs the app's credentials to refresh with: "
                          "set FEISHU_APP_ID and FEISHU_APP_SECRET")
    values.setdefault("app_id", "(FEISHU_APP_ID)")
    values.setdefault("app_secret", "(FEISHU_APP_SECRET)")
    values.update(user_refresh_token=refresh, token_store=FileTokenStore(default_path()))
    if user:
        values["user_access_token"] = user
    return values


def make_client(args: argparse.Namespace) -> Client:
    return Client(**feishu_settings(args)[1])


def dry_run(args: argparse.Namespace, make_call: Callable[[Client], Call]) -> int:
    """Print the requests a command would send (the client's own plan), tokens and secrets
    as ***; send nothing."""
    identity, values = feishu_settings(args, strict=False)
    with Client(**values) as client:
        call = make_call(client)
        emit({"dry_run": True, "identity": identity, "requests": client.planned(call),
              "note": "as %s; nothing was sent%s" % (
                  "the app (tenant_access_token)" if identity == "bot" else "the user",
                  "; further Range requests follow up to the size the first answer gives"
                  if call.headers.get("Range") else "")})
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    if args.dry_run:
        return dry_run(args, lambda c: endpoints.message(c.spec, args.message_id, args.user_id_type))
    with make_client(args) as client:
        message = client.get_message(args.message_id, user_id_type=args.user_id_type)
    if getattr(args, "tree", False):  # asked for: JSON stays what scripts get, terminal or not
        print("\n".join(message_tree(message)))
        return 0
    print(json.dumps(message.to_dict(), ensure_ascii=False, indent=2))
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    if args.dry_run:
        return dry_run(args, lambda c: c.resource_call(args.message_id, args.file_key, args.type))
    with make_client(args) as client:
        client.resource_call(args.message_id, args.file_key, args.type)  # ids checked before any folder is made
        dest = download_dest(args.output)
        # the file's name where the user gave one (the server's comes with the first answer)
        with _bar(args, os.path.basename(args.output.rstrip("/\\")) if args.output else args.file_key) as bar:
            result = client.download_resource(args.message_id, args.file_key, args.type, dest, overwrite=args.overwrite,
                                              progress=bar, checksum=True, add_extension=True,
                                              skip_existing=args.skip_existing)
    emit_result(result)
    return 0


def cmd_dingtalk_download(args: argparse.Namespace) -> int:
    from ..dingtalk import DingTalkClient

    values = settings(DingTalkClient, args)
    if not (values.get("app_key") and values.get("app_secret")):
        raise ConfigError("no DingTalk credentials: set DINGTALK_APP_KEY and DINGTALK_APP_SECRET")
    if not values.get("robot_code"):
        raise ConfigError("no robot code: set DINGTALK_ROBOT_CODE or pass --robot-code")
    dest = download_dest(args.output)
    with DingTalkClient(**values) as client, _bar(args, "dingtalk file") as bar:
        result = client.download(args.download_code, dest, overwrite=args.overwrite, progress=bar, checksum=True,
                                 file_name=args.file_name)
    emit_result(result)
    return 0


def cmd_download_all(args: argparse.Namespace) -> int:
    with make_client(args) as client:
        failed = report_download_all(client, args.message_id, args.output_dir, args.overwrite, wants_progress(args),
                                     skip_existing=args.skip_existing)
    if failed:
        print("%s: %d resource(s) failed: see the \"error\" lines above" % (PROG, failed), file=sys.stderr)
        return 1
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    bar = ExportBar(sys.stderr) if wants_progress(args) else None
    with make_client(args) as client:
        try:
            summary = client.export_chat(args.chat_id, args.output_dir, start_time=args.start_time,
                                         end_time=args.end_time, workers=args.workers, progress=bar,
                                         retry_failed=args.retry_failed)
        finally:
            if bar is not None:
                bar.close()
    emit_result(summary)
    manifest = os.path.join(summary.dest_dir, "manifest.jsonl")
    if summary.refused:  # for good: reported, but no reason for cron to call the run failed
        print("%s: %d resource(s) refused for good by the service (not retried without --retry-failed): "
              "see the lines with \"permanent\" in %s" % (PROG, summary.refused, manifest), file=sys.stderr)
    if not summary.ok:
        print("%s: %d resource(s) failed, a rerun may fetch them: see the lines with \"error\" in %s" % (
            PROG, summary.failed, manifest), file=sys.stderr)
        return 1
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    folder = args.output_dir or tempfile.mkdtemp(prefix="feishu-msgres-demo-")
    os.makedirs(folder, exist_ok=True)
    run_demo(folder)
    return 0


def cmd_chats(args: argparse.Namespace) -> int:
    # a page no larger than the limit: --limit 3 asks for 3, not for 100 to print 3
    page_size = min(args.page_size, args.limit) if args.limit else args.page_size
    checked(args, lambda: endpoints.chats_page(_spec(args), args.query, page_size, args.user_id_type))
    with make_client(args) as client:
        for chat in itertools.islice(client.iter_chats(args.query, page_size, args.user_id_type), args.limit):
            emit(chat.to_dict())
    return 0


def cmd_messages(args: argparse.Namespace) -> int:
    """One JSON line per message on stdout; at the end, on stderr, how many and the token to
    go on from, so that stdout stays messages only for ``| jq``."""
    if args.thread_id and (args.start_time is not None or args.end_time is not None):
        usage_error(args, "--start-time and --end-time go with --chat-id: Feishu does not filter a thread by time")
    container, kind = (args.chat_id, "chat") if args.chat_id else (args.thread_id, "thread")
    query = dict(start_time=args.start_time, end_time=args.end_time, sort=args.sort, container_id_type=kind,
                 user_id_type=args.user_id_type)
    checked(args, lambda: endpoints.messages_page(_spec(args), container, page_token=args.page_token, **query))
    state: Dict[str, Any] = {"listed": 0, "page_token": args.page_token}
    with make_client(args) as client:

        def listed() -> Iterator[Message]:
            """The pages from --page-token on, each no larger than what --limit leaves, so
            that the last page's token resumes exactly after the last message printed."""
            while True:
                left = args.page_size if args.limit is None else min(args.page_size, args.limit - state["listed"])
                page = client.list_messages_page(container, page_size=left, page_token=state["page_token"], **query)
                state["page_token"] = page.page_token
                for message in page.messages:
                    state["listed"] += 1
                    yield message
                if page.page_token is None or (args.limit is not None and state["listed"] >= args.limit):
                    return

        messages = listed()
        if args.expand_threads and kind == "chat":
            messages = client.with_thread_replies(messages, args.page_size, args.user_id_type)
        printed = 0
        for message in messages:
            emit(message_line(message))
            printed += 1
    emit({"messages": printed, "has_more": state["page_token"] is not None, "page_token": state["page_token"]},
         sys.stderr)
    return 0


def cmd_emulator(args: argparse.Namespace) -> int:
    from ..testing.serve import build, cannot_listen, serve  # the emulator loads for this command only

    try:
        emu = build(args.port, args.data)
    except OSError as exc:  # the port is taken, or not ours to take
        print("%s: error: %s" % (PROG, cannot_listen(args.port, exc)), file=sys.stderr)
        return 1
    return serve(emu)  # until Ctrl-C or SIGTERM (which main turns into KeyboardInterrupt): then 0


def checked(args: argparse.Namespace, build: Callable[[], Call]) -> None:
    """Arguments the library refuses (an id with a ``/``, a query too long) are usage errors
    (exit 2), found before any request, as the parser's own are."""
    try:
        build()
    except ConfigError as exc:
        usage_error(args, str(exc))


def usage_error(args: argparse.Namespace, message: str) -> NoReturn:
    """The sub-command's usage and ``message`` on stderr, exit 2: argparse's own way."""
    from .parser import build_parser, subcommand

    subcommand(build_parser(), args.command).error(message)


def _spec(args: argparse.Namespace) -> Platform:
    """The platform the flags and variables pick, for checking calls before any client."""
    return platform_named(settings(Client, args).get("platform") or "feishu")


COMMANDS: Dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": cmd_demo, "get": cmd_get, "download": cmd_download, "download-all": cmd_download_all,
    "export": cmd_export, "dingtalk-download": cmd_dingtalk_download,
    "chats": cmd_chats, "messages": cmd_messages, "emulator": cmd_emulator,
}


def download_dest(output: Optional[str]) -> str:
    """A folder (None, ``dir/``, an existing folder) or a file path; folders are created."""
    if output is None:
        return "."
    folder = output if output.endswith(("/", os.sep)) or os.path.isdir(output) else os.path.dirname(output)
    if folder:
        try:
            os.makedirs(folder, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # a file where a folder must be
            raise ConfigError("--output %s: %s cannot be a folder, a file of that name (or of one above it) is "
                              "there" % (output, folder.rstrip("/" + os.sep))) from None
    return output


class _bar:
    """A progress bar for one download while on a terminal (else None), closed after it."""

    def __init__(self, args: argparse.Namespace, label: str) -> None:
        self.bar = ProgressBar(label, sys.stderr) if wants_progress(args) else None

    def __enter__(self) -> Optional[ProgressBar]:
        return self.bar

    def __exit__(self, *exc_info: Any) -> None:
        if self.bar is not None:
            self.bar.close()
