"""The sub-commands, each a thin function over the library: settings from the flags over
the clients' own tables of environment variables, the dry run from the client's own plan,
results as JSON lines through ``output``."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Any, Callable, Dict, Optional, Tuple

from .. import endpoints
from ..client import Client
from ..endpoints import Call
from ..errors import ConfigError
from .output import PROG, ExportBar, ProgressBar, emit, emit_result, report_download_all, wants_progress

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
    identity = args.identity or ("user" if user else "bot")
    if identity == "user":
        if not user and strict:
            raise ConfigError("--as user needs a user access token: set FEISHU_USER_ACCESS_TOKEN")
        values = {k: v for k, v in values.items() if k not in ("app_id", "app_secret")}
        values["user_access_token"] = user or "(FEISHU_USER_ACCESS_TOKEN)"
    elif not all(app) and strict:
        raise ConfigError("--as bot needs the app's credentials: set FEISHU_APP_ID and FEISHU_APP_SECRET"
                          if args.identity else "no credentials: " + CREDENTIALS)
    else:  # a dry run shows where missing credentials would go
        values.setdefault("app_id", "(FEISHU_APP_ID)")
        values.setdefault("app_secret", "(FEISHU_APP_SECRET)")
    return identity, values


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
        result = client.download(args.download_code, dest, overwrite=args.overwrite, progress=bar, checksum=True)
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


COMMANDS: Dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": cmd_demo, "get": cmd_get, "download": cmd_download, "download-all": cmd_download_all,
    "export": cmd_export, "dingtalk-download": cmd_dingtalk_download,
}


def download_dest(output: Optional[str]) -> str:
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


class _bar:
    """A progress bar for one download while on a terminal (else None), closed after it."""

    def __init__(self, args: argparse.Namespace, label: str) -> None:
        self.bar = ProgressBar(label, sys.stderr) if wants_progress(args) else None

    def __enter__(self) -> Optional[ProgressBar]:
        return self.bar

    def __exit__(self, *exc_info: Any) -> None:
        if self.bar is not None:
            self.bar.close()
