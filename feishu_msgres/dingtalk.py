"""DingTalk robot files: ``downloadCode`` from a robot callback -> a presigned URL -> the bytes.

The token comes from ``POST /v1.0/oauth2/accessToken`` and goes in the
``x-acs-dingtalk-access-token`` header of ``POST /v1.0/robot/messageFiles/download``, which
answers a temporary ``downloadUrl`` on an object store. That URL is signed in its query, so it
is fetched with a plain GET carrying no token and no header of ours: an added credential
would break (or leak past) its signature.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple, Type, Union
from urllib.parse import quote, unquote, urlsplit

import attr
import requests
from urllib3.util.retry import Retry

from ._files import Dest, Target
from ._names import parse_content_disposition
from .auth import BearerAuth, Secret, TokenManager, store_key
from .download import DownloadSettings, Progress
from .download import download as _download
from .errors import (
    APIError,
    AuthError,
    ConfigError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    api_error,
)
from .models import DownloadResult
from .transport import BODY_ERRORS, RETRY_STATUSES, SessionOwner, environment_for, make_session, read_json, send

DEFAULT_BASE_URL = "https://api.dingtalk.com"
DEFAULT_TIMEOUT = (10.0, 60.0)
TOKEN_PATH = "/v1.0/oauth2/accessToken"
DOWNLOAD_PATH = "/v1.0/robot/messageFiles/download"
TOKEN_HEADER = "x-acs-dingtalk-access-token"
INVALID_TOKEN_CODE = "InvalidAuthentication"
# DingTalk's URLs name every object ``<id>.file`` whatever it holds (seed 004).
PLACEHOLDER_EXT = ".file"
FALLBACK_NAME = "dingtalk-file"
_XML_FIELD = "<%s>([^<]{0,500})</%s>"

__all__ = ["DingTalkClient", "RobotFile", "dingtalk_error", "robot_files"]


class DingTalkClient(SessionOwner):
    """``DingTalkClient(app_key, app_secret, robot_code).download(download_code, dest)``.

    One pooled session with the transport's retries; the access token is fetched once,
    cached, refreshed before expiry and shared through ``token_store`` (Django's cache
    shape), exactly as Feishu's. Safe to share between threads.
    """

    def __init__(
        self,
        app_key: str,
        app_secret: str,
        robot_code: Optional[str] = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        token_store: Any = None,
        timeout: Union[float, Tuple[float, float]] = DEFAULT_TIMEOUT,
        retries: Union[int, Retry] = 3,
        session: Optional[requests.Session] = None,
    ) -> None:
        if not app_key or not app_secret:
            raise ConfigError("give app_key and app_secret (DINGTALK_APP_KEY, DINGTALK_APP_SECRET)")
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        if not re.match(r"^https?://[^/]+", self.base_url):
            raise ConfigError("base_url must start with http:// or https://, got %r" % self.base_url)
        self.app_key = app_key
        self.robot_code = robot_code or None
        self.timeout = timeout
        # The engine's defaults; a plain GET first, so only resume settings matter here.
        self.download_settings = DownloadSettings()
        self._app_secret = Secret(app_secret)
        self._own_session = session is None
        self.session = session if session is not None else make_session(retries)
        self._token = TokenManager(
            self._fetch_token, store_key("dingtalk", self.base_url, app_key, app_secret), store=token_store
        )
        self._auth = BearerAuth(self._token, header=TOKEN_HEADER, scheme="")

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **overrides: Any) -> "DingTalkClient":
        """Configured by DINGTALK_APP_KEY, DINGTALK_APP_SECRET, DINGTALK_ROBOT_CODE and
        DINGTALK_BASE_URL; keyword arguments override them."""
        env = os.environ if environ is None else environ
        kwargs: Dict[str, Any] = {
            "app_key": env.get("DINGTALK_APP_KEY") or None,
            "app_secret": env.get("DINGTALK_APP_SECRET") or None,
            "robot_code": env.get("DINGTALK_ROBOT_CODE") or None,
            "base_url": env.get("DINGTALK_BASE_URL") or DEFAULT_BASE_URL,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def __repr__(self) -> str:
        return "<feishu_msgres.DingTalkClient %s, app %s, robot %s>" % (
            self.base_url, self.app_key, self.robot_code or "-"
        )

    # -- the API ------------------------------------------------------------------------

    def get_download_url(self, download_code: str, robot_code: Optional[str] = None) -> str:
        """The temporary ``downloadUrl`` of a robot message's file (it expires: use it soon)."""
        robot = self._robot_for(download_code, robot_code)
        body = self._call(DOWNLOAD_PATH, {"downloadCode": download_code, "robotCode": robot})
        url = body.get("downloadUrl")
        if not isinstance(url, str) or not re.match(r"^https?://", url):
            raise APIError(None, "the answer of %s holds no downloadUrl" % DOWNLOAD_PATH, _request_id(body))
        return url

    def download(
        self,
        download_code: str,
        dest: Dest,
        robot_code: Optional[str] = None,
        overwrite: bool = False,
        progress: Optional[Progress] = None,
        checksum: bool = False,
    ) -> DownloadResult:
        """Download a robot message's file to a file object, a path or a folder.

        A folder gets the object store's name (Content-Disposition) or the URL's own name
        with the extension of its Content-Type (never DingTalk's placeholder ``.file``).
        A body that breaks off resumes with Range; a URL that has expired (HTTP 403) is
        replaced by a fresh one, once. A path is only ever written whole.
        """
        robot = self._robot_for(download_code, robot_code)
        Target(dest, overwrite)  # a bad dest is refused before the API is asked
        presigned = _PresignedFile(self, download_code, robot)
        return _download(
            presigned,
            _name_from_url(presigned.url),
            dest,
            ranged=False,
            settings=self.download_settings,
            overwrite=overwrite,
            progress=progress,
            checksum=checksum,
        )

    # -- HTTP ---------------------------------------------------------------------------

    def _robot_for(self, download_code: Any, robot_code: Optional[str]) -> str:
        if not isinstance(download_code, str) or not download_code.strip():
            raise ConfigError("download_code must be a non-empty string (the callback's downloadCode)")
        robot = robot_code or self.robot_code
        if not robot:
            raise ConfigError("give robot_code (DINGTALK_ROBOT_CODE): the code of the robot that got the message")
        return robot

    def _fetch_token(self) -> Tuple[str, float]:
        response = send(
            self.session,
            "POST",
            self.base_url + TOKEN_PATH,
            json={"appKey": self.app_key, "appSecret": self._app_secret.reveal()},
            timeout=self.timeout,
        )
        body = _read(response, token_call=True)
        token = body.get("accessToken")
        if not isinstance(token, str) or not token:
            raise APIError(None, "the token answer holds no accessToken", _request_id(body), response.status_code)
        try:
            lifetime = float(body.get("expireIn") or 7200)
        except (TypeError, ValueError):
            lifetime = 7200.0
        return token, lifetime

    def _call(self, path: str, payload: Dict[str, Any]) -> Dict[str, Any]:
        """POST with the token; a token the server calls invalid is dropped, a new one
        fetched and the call sent once more."""
        url = self.base_url + path
        response = send(self.session, "POST", url, auth=self._auth, json=payload, timeout=self.timeout)
        if response.status_code == 401 or _code_of(response) == INVALID_TOKEN_CODE:
            used = self._auth.token_of(response.request)
            response.close()
            if used:
                self._token.invalidate(used)
            response = send(self.session, "POST", url, auth=self._auth, json=payload, timeout=self.timeout)
        return _read(response)


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

    def __call__(self, extra_headers: Dict[str, str]) -> requests.Response:
        response = self._get(extra_headers)
        if response.status_code == 403 and not self.renewed:
            # URLs live minutes. Mid-download this resumes where it broke: the engine's
            # Range comes again with the new URL.
            response.close()
            self._use(self.client.get_download_url(self.download_code, self.robot_code))
            self.renewed = True  # only now: a failed ask may be tried again on the next resume
            response = self._get(extra_headers)
        if response.status_code >= 400 and response.status_code not in RETRY_STATUSES:
            raise _object_store_error(response)
        return _without_placeholder_name(response)

    def _get(self, extra_headers: Dict[str, str]) -> requests.Response:
        # No auth and no header of ours: the query's signature is the credential, and a
        # token would leak to the store. Accept-Encoding only changes the value the session
        # sends anyway (no signature covers it): identity keeps byte offsets true for Range.
        headers = {"Accept-Encoding": "identity"}
        headers.update(extra_headers)
        return send(
            self.client.session, "GET", self.url, env=self.env,
            headers=headers, stream=True, timeout=self.client.timeout,
        )


# -- errors -------------------------------------------------------------------------------


def dingtalk_error(
    code: Optional[str],
    msg: str,
    log_id: Optional[str],
    http_status: Optional[int],
    default: Type[APIError] = APIError,
    default_hint: Optional[str] = None,
) -> APIError:
    """The APIError subclass for a DingTalk string code (``invalidParameter.robotCode.auth``).

    ``default`` (with ``default_hint``) is used when the code says nothing known.
    """
    text = code or ""
    cls: Type[APIError] = default
    hint = default_hint
    if text == INVALID_TOKEN_CODE:
        cls, hint = AuthError, "The access token is invalid or expired"
    elif text.startswith("Throttling") or "QpsLimit" in text or http_status == 429:
        cls, hint = RateLimitError, "Rate limited; slow down"
    elif "downloadCode" in text and not text.endswith(".empty"):
        cls, hint = NotFoundError, "The download code is incorrect or expired; take a new one from a new callback"
    elif text.endswith(".auth"):
        cls, hint = PermissionDeniedError, (
            "Use the robotCode of the robot that received the message, from an internal or "
            "authorised app of the same organisation"
        )
    elif text.startswith("invalidParameter"):
        cls, hint = InvalidRequestError, "A request parameter is invalid or empty"
    elif text.startswith("Forbidden"):
        cls, hint = PermissionDeniedError, "The app lacks a permission (qyapi_robot_sendmsg?)"
    return cls(code, msg, log_id=log_id, http_status=http_status, hint=hint)


def _read(response: requests.Response, token_call: bool = False) -> Dict[str, Any]:
    """``transport.read_json``, its APIError retyped by DingTalk's string code."""
    try:
        return read_json(response)
    except APIError as exc:
        body = _body_of(response)
        if body is None:  # not DingTalk's JSON (a gateway page): the transport said it all
            raise
        code = body.get("code")
        default, hint = type(exc), None
        if token_call and exc.http_status in (400, 401, 403):
            # The token endpoint refuses credentials with codes of its own (invalidClientIdOrSecret …).
            default, hint = AuthError, "Check DINGTALK_APP_KEY and DINGTALK_APP_SECRET"
        raise dingtalk_error(
            code if isinstance(code, str) and code else None,
            exc.msg,
            _request_id(body) or exc.log_id,
            exc.http_status,
            default,
            hint,
        ) from None


def _body_of(response: requests.Response) -> Optional[Dict[str, Any]]:
    """The JSON object of an (unstreamed) API answer, or None."""
    try:
        body = json.loads(response.content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _code_of(response: requests.Response) -> Optional[str]:
    body = _body_of(response) if response.status_code >= 400 else None
    code = body.get("code") if body else None
    return code if isinstance(code, str) else None


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
    cls = type(api_error(None, "", None, status))  # the class the HTTP status implies
    return cls(
        code,
        message or "the object store answered HTTP %d to the download URL" % status,
        log_id=request_id or response.headers.get("x-oss-request-id"),
        http_status=status,
        hint="The download URL was refused even after a fresh one was asked for" if status == 403 else None,
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


def _without_placeholder_name(response: requests.Response) -> requests.Response:
    """A Content-Disposition name ending in ``.file`` loses it, so that the Content-Type's
    extension takes its place (DingTalk asks developers to do exactly that)."""
    name = parse_content_disposition(response.headers.get("Content-Disposition"))
    if name and name.lower().endswith(PLACEHOLDER_EXT):
        response.headers["Content-Disposition"] = "attachment; filename*=UTF-8''%s" % quote(
            _strip_placeholder(name), safe=""
        )
    return response


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
