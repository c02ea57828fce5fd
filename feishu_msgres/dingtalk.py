"""DingTalk robot files: ``downloadCode`` from a robot callback -> a presigned URL -> the bytes.

The token comes from ``POST /v1.0/oauth2/accessToken`` and goes in the
``x-acs-dingtalk-access-token`` header of ``POST /v1.0/robot/messageFiles/download``, which
answers a temporary ``downloadUrl`` on an object store. That URL is signed in its query, so it
is fetched with a plain GET carrying no token and no header of ours: an added credential
would break (or leak past) its signature. This module is DingTalk's dialect (its string
error codes), its client, and the parsing of its robot callbacks.
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterator, List, Mapping, Optional, Type, Union
from urllib.parse import unquote, urlsplit

import attr
import requests

from ._files import Dest, Target
from ._names import safe_filename
from .auth import FetchedToken, Secret, TokenAuth, store_key
from .connection import DEFAULT_TIMEOUT, ClientBase, Connection, Timeout, checked_base_url, checked_timeout, own_session
from .download import READ_LIMIT, DownloadSettings
from .endpoints import Call, Hidden
from .errors import (
    BY_STATUS,
    APIError,
    AuthError,
    ConfigError,
    ErrorTable,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from .models import DownloadResult
from .platforms import Dialect
from .ratelimit import Gate
from .resources import ResourceData, ResourceStream, iter_bytes, open_stream, read_bytes, save
from .transfer import Progress, Source, offered_name
from .transport import BODY_ERRORS, Retry, environment_for, send

DEFAULT_BASE_URL = "https://api.dingtalk.com"
TOKEN_PATH = "/v1.0/oauth2/accessToken"
DOWNLOAD_PATH = "/v1.0/robot/messageFiles/download"
TOKEN_HEADER = "x-acs-dingtalk-access-token"
INVALID_TOKEN_CODE = "InvalidAuthentication"
# DingTalk's URLs name every object ``<id>.file`` whatever it holds (seed 004).
PLACEHOLDER_EXT = ".file"
FALLBACK_NAME = "dingtalk-file"
_XML_FIELD = "<%s>([^<]{0,500})</%s>"

__all__ = ["DINGTALK", "DingTalkClient", "RobotFile", "dingtalk_error", "robot_files"]


def _string_code(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


# DingTalk's codes are strings, many of them families (seed 004's error table).
DINGTALK_ERRORS = ErrorTable(
    {INVALID_TOKEN_CODE: (AuthError, "The access token is invalid or expired")},
    rules=[
        (lambda c: c.startswith("Throttling") or "QpsLimit" in c, RateLimitError, "Rate limited; slow down"),
        (lambda c: "downloadCode" in c and not c.endswith(".empty"), NotFoundError,
         "The download code is incorrect or expired; take a new one from a new callback"),
        (lambda c: c.endswith(".auth"), PermissionDeniedError,
         "Use the robotCode of the robot that received the message, from an internal or "
         "authorised app of the same organisation"),
        (lambda c: c.startswith("invalidParameter"), InvalidRequestError, "A request parameter is invalid or empty"),
        (lambda c: c.startswith("Forbidden"), PermissionDeniedError,
         "The app lacks a permission (qyapi_robot_sendmsg?)"),
    ],
)
DINGTALK = Dialect("dingtalk", DINGTALK_ERRORS, [INVALID_TOKEN_CODE], msg_keys=("message", "msg"),
                   log_id_keys=("requestid", "requestId"), parse=_string_code, body_log_id_first=True,
                   rejected_token_statuses=[401])
# The token endpoint refuses credentials with codes of its own (invalidClientIdOrSecret …).
_CREDENTIALS = (AuthError, "Check DINGTALK_APP_KEY and DINGTALK_APP_SECRET")
DINGTALK_TOKEN = Dialect("dingtalk-token", DINGTALK_ERRORS.with_statuses({400: _CREDENTIALS, 401: _CREDENTIALS,
                                                                          403: _CREDENTIALS}),
                         [], msg_keys=("message", "msg"), log_id_keys=("requestid", "requestId"),
                         parse=_string_code, body_log_id_first=True)


def dingtalk_error(code: Optional[str], msg: str, log_id: Optional[str], http_status: Optional[int],
                   default: Type[APIError] = APIError, default_hint: Optional[str] = None) -> APIError:
    """Deprecated: use ``DINGTALK.errors.error(code, msg, log_id, http_status)``.

    As it always did: an unknown code is ``default`` (with ``default_hint``) whatever the
    status, but for 429."""
    import warnings

    warnings.warn("dingtalk_error() is deprecated; use feishu_msgres.dingtalk.DINGTALK.errors.error()",
                  DeprecationWarning, stacklevel=2)
    table = ErrorTable(DINGTALK_ERRORS.codes, DINGTALK_ERRORS.rules, {429: (RateLimitError, "Rate limited; slow down")},
                       (default, default_hint))
    return table.error(code, msg, log_id, http_status)


class DingTalkClient(ClientBase):
    """``DingTalkClient(app_key, app_secret, robot_code).download(download_code, dest)``.

    One pooled session with the transport's retries; the access token is fetched once,
    cached, refreshed before expiry and shared through ``token_store`` (Django's cache
    shape), exactly as Feishu's. Safe to share between threads.
    """

    ENV = {"app_key": "DINGTALK_APP_KEY", "app_secret": "DINGTALK_APP_SECRET",
           "robot_code": "DINGTALK_ROBOT_CODE", "base_url": "DINGTALK_BASE_URL"}

    def __init__(
        self,
        app_key: Optional[str] = None,
        app_secret: Optional[str] = None,
        robot_code: Optional[str] = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        token_store: Any = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        retries: Union[int, Retry] = 3,
        session: Optional[requests.Session] = None,
    ) -> None:
        if not app_key or not app_secret:
            raise ConfigError("give app_key and app_secret (DINGTALK_APP_KEY, DINGTALK_APP_SECRET)")
        url = checked_base_url(base_url or DEFAULT_BASE_URL)
        self.app_key = app_key
        self.robot_code = robot_code or None
        # The engine's defaults; a plain GET first, so only resume settings matter here.
        self.download_settings = DownloadSettings()
        session, self._own_session = own_session(session, retries)
        self.connection = Connection(session, url, DINGTALK, checked_timeout(timeout), Gate())
        secret = Secret(app_secret)
        token_call = Call("POST", TOKEN_PATH, json={"appKey": app_key, "appSecret": Hidden(secret)})
        self.tokens = FetchedToken(lambda call: self.connection.json(call, dialect=DINGTALK_TOKEN, redirects=False),
                                   lambda: token_call, "accessToken", store_key("dingtalk", url, app_key, app_secret),
                                   token_store, lifetime_field="expireIn")
        self._auth = TokenAuth(self.tokens, DINGTALK, header=TOKEN_HEADER, scheme="")

    def __repr__(self) -> str:
        return "<feishu_msgres.DingTalkClient %s, app %s, robot %s>" % (
            self.base_url, self.app_key, self.robot_code or "-"
        )

    # -- the API ------------------------------------------------------------------------

    def get_download_url(self, download_code: str, robot_code: Optional[str] = None) -> str:
        """The temporary ``downloadUrl`` of a robot message's file (it expires: use it soon)."""
        robot = self._robot_for(download_code, robot_code)
        call = Call("POST", DOWNLOAD_PATH, json={"downloadCode": download_code, "robotCode": robot})
        body = self.connection.json(call, auth=self._auth)
        url = body.get("downloadUrl")
        if not isinstance(url, str) or not re.match(r"^https?://", url):
            raise APIError(None, "the answer of %s holds no downloadUrl" % DOWNLOAD_PATH, _request_id(body),
                           method="POST", path=DOWNLOAD_PATH)
        return url

    def download(self, download_code: str, dest: Dest, *, robot_code: Optional[str] = None, overwrite: bool = False,
                 progress: Optional[Progress] = None, checksum: bool = False,
                 file_name: Optional[str] = None) -> DownloadResult:
        """Download a robot message's file to a file object, a path or a folder.

        A folder gets ``file_name`` (the callback's ``fileName``, ``RobotFile.name``) when
        given and usable, else the object store's name (Content-Disposition) or the URL's
        own, each made safe and given the extension of the Content-Type when it has none
        (never DingTalk's placeholder ``.file``). A body that breaks off resumes with Range;
        a URL that has expired (HTTP 403) is replaced by a fresh one, once. A path is only
        ever written whole.
        """
        robot = self._robot_for(download_code, robot_code)
        Target(dest, overwrite)  # a bad dest is refused before the API is asked
        return save(self._source(download_code, robot, file_name), dest, overwrite=overwrite, progress=progress,
                    checksum=checksum)

    def open_file(self, download_code: str, *, robot_code: Optional[str] = None, progress: Optional[Progress] = None,
                  checksum: bool = False, file_name: Optional[str] = None) -> ResourceStream:
        """The file as a ``ResourceStream`` of chunks (see ``Client.open_resource``);
        ``file_name`` as in ``download``, for its ``filename``."""
        return open_stream(self._source(download_code, self._robot_for(download_code, robot_code), file_name),
                           progress=progress, checksum=checksum)

    def iter_file(self, download_code: str, *, robot_code: Optional[str] = None) -> Iterator[bytes]:
        """The file's bytes, chunk by chunk."""
        return iter_bytes(self._source(download_code, self._robot_for(download_code, robot_code)))

    def read_file(self, download_code: str, *, robot_code: Optional[str] = None,
                  max_bytes: int = READ_LIMIT, file_name: Optional[str] = None) -> ResourceData:
        """A small file in memory, as ``ResourceData`` (see ``Client.read_resource``);
        ``file_name`` as in ``download``, for its ``filename``."""
        return read_bytes(self._source(download_code, self._robot_for(download_code, robot_code), file_name),
                          max_bytes=max_bytes)

    def _source(self, download_code: str, robot_code: str, file_name: Optional[str] = None) -> Source:
        if file_name is not None and not isinstance(file_name, str):
            raise ConfigError("file_name must be a string (the callback's fileName) or None")
        presigned = _PresignedFile(self, download_code, robot_code)
        name_of = _offered_without_placeholder
        if safe_filename(file_name):  # the callback's name; one that cannot be made safe is passed over
            name_of = lambda headers: file_name  # noqa: E731
        return Source(presigned, _name_from_url(presigned.url), False, DINGTALK, self.download_settings,
                      self.connection.gate, name_of=name_of)

    def _robot_for(self, download_code: Any, robot_code: Optional[str]) -> str:
        if not isinstance(download_code, str) or not download_code.strip():
            raise ConfigError("download_code must be a non-empty string (the callback's downloadCode)")
        robot = robot_code or self.robot_code
        if not robot:
            raise ConfigError("give robot_code (DINGTALK_ROBOT_CODE): the code of the robot that got the message")
        return robot


class _PresignedFile:
    """The engine's ``open_response`` for one download: GETs of a presigned URL, which is
    replaced by a fresh one once when the object store calls it expired (HTTP 403)."""

    def __init__(self, client: DingTalkClient, download_code: str, robot_code: str) -> None:
        self.client = client
        self.download_code = download_code
        self.robot_code = robot_code
        self.renewed = False
        self._use(client.get_download_url(download_code, robot_code))

    def _use(self, url: str) -> None:
        self.url = url
        self.env = environment_for(self.client.session, url)

    def __call__(self, headers: Dict[str, str]) -> requests.Response:
        response = self._get(headers)
        if response.status_code == 403 and not self.renewed:
            # URLs live minutes. Mid-download this resumes where it broke: the engine's
            # Range comes again with the new URL.
            response.close()
            self._use(self.client.get_download_url(self.download_code, self.robot_code))
            self.renewed = True  # only now: a failed ask may be tried again on the next resume
            response = self._get(headers)
        if response.status_code >= 400:  # after the transport's retries: the store's own words
            raise _object_store_error(response)
        return response

    def _get(self, headers: Dict[str, str]) -> requests.Response:
        # No auth and no header of ours: the query's signature is the credential, and a
        # token would leak to the store. The engine's Accept-Encoding only changes the value
        # the session sends anyway (no signature covers it): identity keeps offsets true.
        conn = self.client.connection
        return send(conn.session, "GET", self.url, gate=conn.gate, env=self.env, headers=headers, stream=True,
                    timeout=conn.timeout)


# -- errors -------------------------------------------------------------------------------


def _request_id(body: Mapping[str, Any]) -> Optional[str]:
    value = body.get("requestid") or body.get("requestId")
    return str(value) if value else None


def _object_store_error(response: requests.Response) -> APIError:
    """An object store's refusal (OSS answers XML: Code, Message, RequestId) as an APIError."""
    try:
        text = next(response.iter_content(16 * 1024), b"").decode("utf-8", "replace")
    except BODY_ERRORS:  # a broken error body still leaves the status
        text = ""
    finally:
        response.close()
    code, message, request_id = (_xml_field(text, name) for name in ("Code", "Message", "RequestId"))
    status = response.status_code
    cls = BY_STATUS.classify(None, status)[0]  # the class the HTTP status implies
    return cls(
        code,
        message or "the object store answered HTTP %d to the download URL" % status,
        log_id=request_id or response.headers.get("x-oss-request-id"),
        http_status=status,
        hint="The download URL was refused even after a fresh one was asked for" if status == 403 else None,
        method="GET",
        path=urlsplit(response.url or "").path or None,
    )


def _xml_field(text: str, name: str) -> Optional[str]:
    match = re.search(_XML_FIELD % (name, name), text)
    return (match.group(1).strip() or None) if match else None


# -- names --------------------------------------------------------------------------------


def _strip_placeholder(name: str) -> str:
    return name[: -len(PLACEHOLDER_EXT)] if name.lower().endswith(PLACEHOLDER_EXT) else name


def _name_from_url(url: str) -> str:
    """The URL's last path component without ``.file``: the name when the store gives none
    (``choose_filename`` then adds the extension of the Content-Type)."""
    last = unquote(urlsplit(url).path).rstrip("/").rsplit("/", 1)[-1]
    return _strip_placeholder(last).strip() or FALLBACK_NAME


def _offered_without_placeholder(headers: Mapping[str, str]) -> Optional[str]:
    """The name the store offers, without a ``.file`` ending, so that the Content-Type's
    extension takes its place (DingTalk asks developers to do exactly that)."""
    name = offered_name(headers)
    return _strip_placeholder(name) if name else None


# -- robot callbacks ----------------------------------------------------------------------


@attr.frozen
class RobotFile:
    """One downloadable file of a robot callback: pass ``download_code`` to ``download``."""

    download_code: str
    msgtype: str  # the msgtype of the message it came from: picture, file, audio, video, richText
    name: Optional[str] = None  # the fileName of a file message; None for the others
    picture_download_code: Optional[str] = None


_SINGLE_FILE_TYPES = ("picture", "file", "audio", "video")


def robot_files(callback: Any) -> List[RobotFile]:
    """The files of a DingTalk robot callback message (the JSON DingTalk posts to the bot).

    Forgiving on purpose: unknown msgtypes, missing fields and junk give ``[]``, never an
    exception; ``content`` may be an object or a JSON string, the callback too.
    """
    callback = _as_dict(callback)
    if callback is None:
        return []
    msgtype = callback.get("msgtype")
    content = _as_dict(callback.get("content"))
    if not isinstance(msgtype, str) or content is None:
        return []
    if msgtype in _SINGLE_FILE_TYPES:
        found = _file_of(content, msgtype)
        if found is not None and msgtype == "file":
            name = content.get("fileName")
            found = attr.evolve(found, name=name if isinstance(name, str) and name else None)
        return [found] if found is not None else []
    if msgtype == "richText":
        elements = content.get("richText")
        if not isinstance(elements, list):
            return []
        files: List[RobotFile] = []
        seen = set()
        for element in elements:
            if not isinstance(element, dict):
                continue
            if not (_text(element.get("downloadCode")) or element.get("type") == "picture"):
                continue  # text and @mentions
            found = _file_of(element, msgtype)
            if found is not None and found.download_code not in seen:
                seen.add(found.download_code)
                files.append(found)
        return files
    return []


def _file_of(data: Mapping[str, Any], msgtype: str) -> Optional[RobotFile]:
    code = _text(data.get("downloadCode"))
    picture_code = _text(data.get("pictureDownloadCode"))
    # Pictures have carried either code over the callback's versions; downloadCode is the
    # one messageFiles/download takes, the other a fallback.
    code = code or picture_code
    if code is None:
        return None
    return RobotFile(download_code=code, msgtype=msgtype, picture_download_code=picture_code)


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value.strip() else None


def _as_dict(value: Any) -> Optional[Dict[str, Any]]:
    if isinstance(value, (str, bytes, bytearray)):
        try:
            value = json.loads(value)
        except (ValueError, UnicodeDecodeError):
            return None
    return value if isinstance(value, dict) else None
