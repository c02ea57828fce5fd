"""A DingTalk emulator: the robot-file API and the object store behind it, on loopback.

It speaks ``POST /v1.0/oauth2/accessToken`` and ``POST /v1.0/robot/messageFiles/download``
with DingTalk's string error codes and ``requestid``, and serves the presigned URLs it hands
out itself (``/oss/<object>.file?Expires=…&OSSAccessKeyId=…&Signature=…``) the way OSS does:
Range, XML errors, 403 for an expired URL. Standard library only; every request is recorded
with its headers, so tests can check that the file host never sees the access token.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote

from .._names import content_disposition as _disposition
from ._base import BaseHandler, LoopbackEmulator, Request
from ._faults import Actions

TOKEN_PATH = "/v1.0/oauth2/accessToken"
DOWNLOAD_PATH = "/v1.0/robot/messageFiles/download"
TOKEN_HEADER = "x-acs-dingtalk-access-token"
OSS_PREFIX = "/oss/"
_OSS_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>%s</Code>\n  <Message>%s</Message>\n'
    "  <RequestId>%s</RequestId>\n  <HostId>oss-emulator</HostId>\n</Error>\n"
)


class DingTalkRequest(Request):
    """One request the emulator received; ``json`` is its parsed body (API calls) and
    ``request_id`` the ``requestid`` it was answered with."""

    def __init__(self, *args: Any, json_body: Any = None, request_id: str = "") -> None:
        super().__init__(*args)
        self.json = json_body
        self.request_id = request_id


class DingTalkEmulator(LoopbackEmulator):
    """``with DingTalkEmulator() as emu: emu.add_file("code", b"…", "image/png"); emu.client()``.

    Request kinds (for ``count`` and the faults): ``token``, ``download_url`` (the
    messageFiles/download call), ``file`` (the object store) and ``unknown``.
    """

    def __init__(
        self,
        app_key: str = "ding_emulator",
        app_secret: str = "emulator-secret",
        robot_code: str = "robot_emulator",
        token_lifetime: int = 7200,
        url_lifetime: int = 3600,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.app_key = app_key
        self.app_secret = app_secret
        self.robot_code = robot_code
        self.token_lifetime = token_lifetime
        self.url_lifetime = url_lifetime
        self._files: Dict[str, Dict[str, Any]] = {}  # download code -> file
        self._objects: Dict[str, Dict[str, Any]] = {}  # object name -> file
        self._signatures: Dict[str, Tuple[str, bool]] = {}  # signature -> (object, expired)
        self._tokens: Dict[str, float] = {}

    thread_name = "dingtalk-emulator"

    def client(self, **kwargs: Any) -> Any:
        """A ``feishu_msgres.dingtalk.DingTalkClient`` for this emulator."""
        from ..dingtalk import DingTalkClient

        kwargs.setdefault("app_key", self.app_key)
        kwargs.setdefault("app_secret", self.app_secret)
        kwargs.setdefault("robot_code", self.robot_code)
        return DingTalkClient(base_url=self.url, **kwargs)

    # -- content --------------------------------------------------------------------------

    def add_file(
        self,
        download_code: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        robot_code: Optional[str] = None,
        filename: Optional[str] = None,
    ) -> str:
        """Register the file a robot message's ``download_code`` gives (to ``robot_code``,
        by default the emulator's robot). ``filename`` adds a Content-Disposition, which
        DingTalk's store does not send. Returns the object's name on the file host."""
        name = secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")
        item = {
            "data": data,
            "content_type": content_type,
            "robot_code": robot_code or self.robot_code,
            "filename": filename,
            "object": name,
            # OSS's ETag of a simple upload: the MD5 of the object, upper-case hex, quoted
            "etag": '"%s"' % hashlib.md5(data).hexdigest().upper(),
        }
        with self._lock:
            self._files[download_code] = item
            self._objects[name] = item
        return name

    # -- faults ---------------------------------------------------------------------------

    def fail(
        self,
        kind: str = "download_url",
        status: int = 500,
        code: str = "ServiceUnavailable",
        message: str = "emulated failure",
        times: Optional[int] = 1,
        after: int = 0,
    ) -> None:
        """Answer the next ``times`` API calls of ``kind`` (``token``, ``download_url``) with
        ``status`` and DingTalk's JSON error ``code`` (``Throttling.Api`` with 429, say)."""
        self._add_fault(kind, None, times, after, Actions(status=status, code=code, message=message))

    def fail_file(self, times: Optional[int] = 1, status: int = 503, after: int = 0,
                  code: str = "ServiceUnavailable", message: str = "emulated failure") -> None:
        """Answer the next ``times`` file requests with ``status`` and an OSS XML error
        (403 says AccessDenied, as an expired URL does)."""
        if status == 403 and code == "ServiceUnavailable":
            code, message = "AccessDenied", "Request has expired."
        self._add_fault("file", None, times, after, Actions(status=status, code=code, message=message))

    def drop_after(self, nbytes: int, times: Optional[int] = 1, reset: bool = False, after: int = 0) -> None:
        """Send a file's headers and ``nbytes`` of its body, then close (``reset``: RST)."""
        self._add_fault("file", None, times, after, Actions(drop_after=nbytes, reset=reset))

    def expire_urls(self) -> None:
        """Every download URL handed out so far answers 403 AccessDenied from now on."""
        with self._lock:
            for signature, (name, _) in list(self._signatures.items()):
                self._signatures[signature] = (name, True)

    def expire_tokens(self) -> None:
        """Every access token issued so far becomes invalid (401 InvalidAuthentication)."""
        with self._lock:
            self._tokens.clear()

    def of_kind(self, kind: str) -> List[DingTalkRequest]:
        return [r for r in self.requests if r.kind == kind]

    # -- serving (called from the handler) ------------------------------------------------

    def _issue_token(self) -> str:
        token = "dt-emulator-" + secrets.token_hex(8)
        with self._lock:
            self._tokens[token] = time.time() + self.token_lifetime
        return token

    def _token_valid(self, token: Optional[str]) -> bool:
        with self._lock:
            expires = self._tokens.get(token or "")
        return expires is not None and expires > time.time()

    def _sign_url(self, item: Dict[str, Any]) -> str:
        signature = secrets.token_urlsafe(21)
        with self._lock:
            self._signatures[signature] = (item["object"], False)
        expires = int(time.time()) + self.url_lifetime
        return "%s%s%s.file?Expires=%d&OSSAccessKeyId=LTAIemulator&Signature=%s" % (
            self.url, OSS_PREFIX, item["object"], expires, signature
        )


class _Handler(BaseHandler):
    """DingTalk's API and the object store behind it, on the wire."""

    emulator: DingTalkEmulator
    server_version = "DingTalkEmulator/1"
    json_type = "application/json;charset=utf-8"
    request_id = ""  # of the request being answered

    # -- what a request is, how an answer looks ----------------------------------------------

    def _route(self, path: str) -> Tuple[str, Optional[str]]:
        if path == TOKEN_PATH and self.command == "POST":
            return "token", None
        if path == DOWNLOAD_PATH and self.command == "POST":
            return "download_url", None
        if path.startswith(OSS_PREFIX) and self.command == "GET":
            return "file", None
        return "unknown", None

    def _new_request(self, path: str, query: Dict[str, str], kind: str, raw_body: bytes) -> Request:
        try:
            body = json.loads(raw_body.decode("utf-8")) if raw_body else None
        except (ValueError, UnicodeDecodeError):
            body = None
        self.request_id = secrets.token_hex(16).upper()
        return DingTalkRequest(self.command, path, query, dict(self.headers.items()), kind,
                               json_body=body, request_id=self.request_id)

    def _answer(self, request: Request, key: Optional[str], raw_body: bytes, actions: Actions) -> None:
        if request.kind == "file":
            return self._file(request.path, request.query, actions)
        if actions.status is not None and actions.body is not None:  # a redirect, a gateway's page
            return self._send(actions.status, dict(actions.headers or {}), actions.body)
        if actions.status is not None:
            return self._error(actions.status, actions.code, actions.message or "")
        assert isinstance(request, DingTalkRequest)
        body = request.json if isinstance(request.json, dict) else {}
        if request.kind == "token":
            return self._token(body)
        if request.kind == "download_url":
            return self._download_url(body)
        return self._error(404, "NotFound", "no such endpoint in the emulator")

    def _json(self, status: int, body: Dict[str, Any]) -> None:
        self._send_json(status, body, {"Content-Type": self.json_type, "x-acs-request-id": self.request_id})

    def _error(self, status: int, code: object, message: str) -> None:
        """DingTalk's API error: a string ``code``, ``message`` and ``requestid`` (seed 004)."""
        self._json(status, {"code": code, "message": message, "requestid": self.request_id})

    def _oss_error(self, status: int, code: str, message: str) -> None:
        """OSS's error: XML with Code, Message, RequestId and HostId."""
        body = (_OSS_ERROR % (code, message, self.request_id)).encode("utf-8")
        self._send(status, {"Content-Type": "application/xml", "x-oss-request-id": self.request_id}, body)

    # -- the API ----------------------------------------------------------------------------

    def _token(self, body: Dict[str, Any]) -> None:
        emu = self.emulator
        if body.get("appKey") != emu.app_key or body.get("appSecret") != emu.app_secret:
            return self._error(400, "invalidClientIdOrSecret", "Invalid clientId or clientSecret.")
        self._json(200, {"accessToken": emu._issue_token(), "expireIn": emu.token_lifetime})

    def _download_url(self, body: Dict[str, Any]) -> None:
        """Seed 004: the file's temporary download link (ending in ``.file``), or its errors."""
        emu = self.emulator
        if not emu._token_valid(self.headers.get(TOKEN_HEADER)):
            return self._error(401, "InvalidAuthentication", "Invalid or expired access token.")
        robot, code = body.get("robotCode"), body.get("downloadCode")
        if not robot:
            return self._error(400, "invalidParameter.robotCode.empty", "The bot robotCode is empty.")
        if not code:
            return self._error(400, "invalidParameter.robotCode.empty", "The bot downloadCode is empty.")
        item = emu._files.get(code)
        if item is None:
            return self._error(400, "invalidParameter.robotCode.downloadCode",
                               "The download code is incorrect or has expired.")
        if item["robot_code"] != robot:
            return self._error(400, "invalidParameter.robotCode.auth",
                               "This downloadCode does not match the bot robotCode.")
        self._json(200, {"downloadUrl": emu._sign_url(item)})

    # -- the object store -------------------------------------------------------------------

    def _file(self, path: str, query: Dict[str, str], actions: Actions) -> None:
        emu = self.emulator
        if self.headers.get("Authorization"):
            # OSS (like S3) refuses a second credential beside the query's signature.
            return self._oss_error(400, "InvalidArgument", "Authorization header and query signature both present.")
        if actions.status is not None:
            return self._oss_error(actions.status, str(actions.code), actions.message or "")
        name = unquote(path[len(OSS_PREFIX):])
        if name.endswith(".file"):
            name = name[: -len(".file")]
        with emu._lock:
            signed = emu._signatures.get(query.get("Signature", ""))
        if signed is None or signed[0] != name:
            return self._oss_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")
        try:
            expires = int(query.get("Expires", "0"))
        except ValueError:
            expires = 0
        if signed[1] or expires < time.time():
            return self._oss_error(403, "AccessDenied", "Request has expired.")
        item = emu._objects[name]
        data: bytes = item["data"]
        headers = {"Content-Type": item["content_type"], "Accept-Ranges": "bytes", "ETag": item["etag"],
                   "x-oss-request-id": self.request_id}
        if item["filename"]:
            headers["Content-Disposition"] = _disposition(item["filename"])
        self._serve(data, headers, actions)


DingTalkEmulator.handler = _Handler
