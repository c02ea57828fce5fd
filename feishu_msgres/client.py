"""``Client``: the session, the token and the endpoint methods, in one thread-safe object."""
from __future__ import annotations

import os
import re
import functools
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Set, Tuple, Union
from urllib.parse import quote

import requests
from urllib3.util.retry import Retry

from ._files import Dest
from .auth import BearerAuth, Secret, StaticToken, TokenManager, store_key
from .download import MAX_RANGE_SIZE, PROBE_SIZE, RANGE_SIZE, RESUME_TRIES, DownloadSettings, Progress, download
from .errors import TOKEN_INVALID_CODES, APIError, ConfigError, FeishuError
from .models import DownloadResult, Message, Resource, ResourceDownload
from .transport import environment_for, error_code_of, make_session, read_json, send

PLATFORMS = {
    "feishu": "https://open.feishu.cn",
    "lark": "https://open.larksuite.com",
}
RESOURCE_TYPES = ("image", "file")
DEFAULT_TIMEOUT = (10.0, 60.0)
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGE_PATH = "/open-apis/im/v1/messages/%s"
RESOURCE_PATH = "/open-apis/im/v1/messages/%s/resources/%s"
# Characters no message id or file key holds, which would change the URL's meaning.
_BAD_ID = re.compile(r"[/\\?#%\s\x00-\x1f\x7f]")


class Client:
    """A Feishu / Lark client: ``Client(app_id, app_secret)`` or ``Client(user_access_token=…)``.

    One ``requests.Session`` with retries on its adapter; the tenant token is fetched once,
    cached, refreshed before expiry and shared through ``token_store`` when given.
    Safe to share between threads.
    """

    def __init__(
        self,
        app_id: Optional[str] = None,
        app_secret: Optional[str] = None,
        *,
        platform: str = "feishu",
        base_url: Optional[str] = None,
        user_access_token: Optional[str] = None,
        token_store: Any = None,
        timeout: Union[float, Tuple[float, float]] = DEFAULT_TIMEOUT,
        retries: Union[int, Retry] = 3,
        session: Optional[requests.Session] = None,
        probe_size: int = PROBE_SIZE,
        range_size: int = RANGE_SIZE,
        max_range_size: int = MAX_RANGE_SIZE,
        resume_tries: int = RESUME_TRIES,
    ) -> None:
        if platform not in PLATFORMS:
            raise ConfigError(
                "unknown platform %r (choose one of: %s)" % (platform, ", ".join(sorted(PLATFORMS)))
            )
        if not user_access_token and not (app_id and app_secret):
            raise ConfigError(
                "give app_id and app_secret (FEISHU_APP_ID, FEISHU_APP_SECRET) "
                "or user_access_token (FEISHU_USER_ACCESS_TOKEN)"
            )
        self.platform = platform
        self.base_url = (base_url or PLATFORMS[platform]).rstrip("/")
        if not re.match(r"^https?://[^/]+", self.base_url):
            raise ConfigError("base_url must start with http:// or https://, got %r" % self.base_url)
        self.app_id = app_id
        self.timeout = timeout
        self.download_settings = DownloadSettings(
            probe_size=probe_size,
            range_size=range_size,
            max_range_size=max(max_range_size, range_size),
            resume_tries=resume_tries,
        )
        self._own_session = session is None
        self.session = session if session is not None else make_session(retries)
        self._token: Union[StaticToken, TokenManager]
        if user_access_token:
            self._token = StaticToken(user_access_token)
        else:
            assert app_id and app_secret
            self._app_secret = Secret(app_secret)
            self._token = TokenManager(
                self._fetch_tenant_token,
                store_key("tat", self.base_url, app_id, app_secret),
                store=token_store,
            )
        self._auth = BearerAuth(self._token)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **overrides: Any) -> "Client":
        """Configured by FEISHU_APP_ID, FEISHU_APP_SECRET, FEISHU_BASE_URL, FEISHU_PLATFORM,
        FEISHU_USER_ACCESS_TOKEN; keyword arguments override them."""
        env = os.environ if environ is None else environ
        kwargs: Dict[str, Any] = {
            "app_id": env.get("FEISHU_APP_ID") or None,
            "app_secret": env.get("FEISHU_APP_SECRET") or None,
            "base_url": env.get("FEISHU_BASE_URL") or None,
            "platform": env.get("FEISHU_PLATFORM") or "feishu",
            "user_access_token": env.get("FEISHU_USER_ACCESS_TOKEN") or None,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def __repr__(self) -> str:
        who = "user token" if isinstance(self._token, StaticToken) else "app %s" % self.app_id
        return "<feishu_msgres.Client %s, %s>" % (self.base_url, who)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the session (only one this client made: a session passed in stays yours)."""
        if self._own_session:
            self.session.close()

    # -- HTTP ---------------------------------------------------------------------------

    def _fetch_tenant_token(self) -> Tuple[str, float]:
        response = send(
            self.session,
            "POST",
            self.base_url + TOKEN_PATH,
            json={"app_id": self.app_id, "app_secret": self._app_secret.reveal()},
            timeout=self.timeout,
        )
        body = read_json(response)
        token = body.get("tenant_access_token")
        if not isinstance(token, str) or not token:
            raise APIError(None, "the token answer holds no tenant_access_token", http_status=response.status_code)
        return token, float(body.get("expire") or 7200)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send an authenticated request; a token the server calls invalid is dropped,
        a new one fetched and the request sent once more."""
        kwargs.setdefault("timeout", self.timeout)
        url = self.base_url + path
        response = send(self.session, method, url, auth=self._auth, **kwargs)
        if self._token_rejected(response, bool(kwargs.get("stream"))):
            used = self._auth.token_of(response.request)
            response.close()
            if used:
                self._token.invalidate(used)
            response = send(self.session, method, url, auth=self._auth, **kwargs)
        return response

    def _token_rejected(self, response: requests.Response, stream: bool) -> bool:
        if not isinstance(self._token, TokenManager):
            return False  # a user token cannot be refreshed here: its error goes to the caller
        if stream and response.status_code < 400:
            return False  # a streamed success is the resource itself: do not read into it
        return error_code_of(response) in TOKEN_INVALID_CODES

    # -- endpoints ----------------------------------------------------------------------

    def get_message(self, message_id: str, user_id_type: Optional[str] = None) -> Message:
        """The message, with its merge_forward children and downloadable resources."""
        params = {"user_id_type": user_id_type} if user_id_type else None
        body = read_json(self.request("GET", MESSAGE_PATH % quote_id("message_id", message_id), params=params))
        data = body.get("data") or {}
        items = data.get("items") if isinstance(data, dict) else None
        if not items:
            raise APIError(None, "the answer for %s holds no message" % message_id)
        return Message.from_items(items)

    def download_resource(
        self,
        message_id: str,
        file_key: str,
        type: str,
        dest: Dest,
        overwrite: bool = False,
        progress: Optional[Progress] = None,
        checksum: bool = False,
        add_extension: bool = False,
        _taken: Optional[Set[str]] = None,
    ) -> DownloadResult:
        """Download one image or file of a message to a file object, a path or a folder.

        Files go in HTTP Range requests (a probe, then ranges from ``range_size`` up);
        images in one GET. Breaks resume from the last byte; a path is only ever written
        whole. ``add_extension``: a path without an extension gets the server's.
        """
        if type not in RESOURCE_TYPES:
            raise ConfigError("type must be 'image' or 'file', not %r" % (type,))
        path = RESOURCE_PATH % (quote_id("message_id", message_id), quote_id("file_key", file_key))

        env = environment_for(self.session, self.base_url + path)

        def open_response(extra_headers: Dict[str, str]) -> requests.Response:
            headers = {"Accept-Encoding": "identity"}
            headers.update(extra_headers)
            return self.request("GET", path, params={"type": type}, headers=headers, stream=True, env=env)

        return download(
            open_response,
            file_key,
            dest,
            ranged=type == "file",
            settings=self.download_settings,
            overwrite=overwrite,
            progress=progress,
            checksum=checksum,
            add_extension=add_extension,
            taken=_taken,
        )

    def download_all(
        self,
        message_id: str,
        dest_dir: Union[str, "os.PathLike[str]"],
        overwrite: bool = False,
        checksum: bool = True,
        progress: Optional[Callable[[Resource, int, Optional[int]], None]] = None,
    ) -> List[ResourceDownload]:
        """Every resource of a message and of its merge_forward children, into ``dest_dir``.

        Each is tried, whatever became of the others: the API's refusals (234043 for
        forwarded messages, say) and network failures are kept in the outcome, not raised.
        Two resources with the same name never overwrite each other (``a (2).pdf``).
        """
        return list(self.iter_download_all(message_id, dest_dir, overwrite, checksum, progress))

    def iter_download_all(
        self,
        message_id: str,
        dest_dir: Union[str, "os.PathLike[str]"],
        overwrite: bool = False,
        checksum: bool = True,
        progress: Optional[Callable[[Resource, int, Optional[int]], None]] = None,
    ) -> Iterator[ResourceDownload]:
        """``download_all``, yielding each outcome as soon as it is known."""
        message = self.get_message(message_id)
        folder = os.fspath(dest_dir)
        os.makedirs(folder, exist_ok=True)
        taken: Set[str] = set()
        for res in (r for m in message.walk() for r in m.resources):
            report = None if progress is None else functools.partial(progress, res)
            try:
                result = self.download_resource(
                    res.message_id, res.file_key, res.type, folder,
                    overwrite=overwrite, progress=report, checksum=checksum, _taken=taken,
                )
            except (FeishuError, OSError) as exc:  # OSError: the disk (full, no permission)
                yield ResourceDownload(res, error=exc)
            else:
                yield ResourceDownload(res, result)


def quote_id(what: str, value: Any) -> str:
    """An id checked and quoted for a URL path; bad ids are refused before any request."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("%s must be a non-empty string" % what)
    if _BAD_ID.search(value) or value in (".", ".."):
        raise ConfigError("%s %r holds characters no id has (/, \\, ?, #, %%, spaces)" % (what, value))
    return quote(value, safe="~-._")
