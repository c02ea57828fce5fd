"""``Client``: the session, the token and the endpoint methods, in one thread-safe object."""
from __future__ import annotations

import copy
import datetime
import functools
import os
import re
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, Optional, Set, Tuple, Union
from urllib.parse import quote

import requests
from urllib3.util.retry import Retry

from ._files import Dest, Target
from .auth import BearerAuth, Secret, StaticToken, TokenManager, store_key
from .download import (
    MAX_RANGE_SIZE,
    PROBE_SIZE,
    RANGE_SIZE,
    RESUME_TRIES,
    DownloadSettings,
    OpenResponse,
    Progress,
    Transfer,
    download,
)
from .errors import TOKEN_INVALID_CODES, APIError, ConfigError, FeishuError, TooLargeError
from .models import DownloadResult, Message, Resource, ResourceDownload
from .platforms import APP_TOKEN_PATH, PLATFORMS, STORE_TENANT_TOKEN_PATH
from .ratelimit import RateLimiter
from .resources import ResourceData, ResourceStream
from .transport import (
    FeishuRetry,
    SessionOwner,
    environment_for,
    error_code_of,
    log,
    make_session,
    read_json,
    retry_wait,
    send,
)

if TYPE_CHECKING:  # pragma: no cover
    from .export import ExportProgress, ExportSummary

RESOURCE_TYPES = ("image", "file")
DEFAULT_TIMEOUT = (10.0, 60.0)
# Characters no message id or file key holds, which would change the URL's meaning.
_BAD_ID = re.compile(r"[/\\?#%\s\x00-\x1f\x7f]")


class Client(SessionOwner):
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
        app_ticket: Optional[str] = None,
        tenant_key: Optional[str] = None,
        token_store: Any = None,
        timeout: Union[float, Tuple[float, float]] = DEFAULT_TIMEOUT,
        retries: Union[int, Retry] = 3,
        session: Optional[requests.Session] = None,
        probe_size: int = PROBE_SIZE,
        range_size: int = RANGE_SIZE,
        max_range_size: int = MAX_RANGE_SIZE,
        resume_tries: int = RESUME_TRIES,
        rate_limit: Optional[Tuple[int, Optional[int]]] = (50, 1000),
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
        self.spec = PLATFORMS[platform]
        self.base_url = (base_url or self.spec.base_url).rstrip("/")
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
        # Connections are opened on demand: a roomy pool costs nothing and serves export workers.
        self.session = session if session is not None else make_session(retries, pool_maxsize=32)
        # Requests per second and per minute (Feishu's documented 50/s and 1000/min); None: off.
        self.rate_limiter: Any = RateLimiter(*rate_limit) if rate_limit else None
        adapter_retry = getattr(self.session.get_adapter("https://"), "max_retries", None)
        if self._own_session and isinstance(adapter_retry, FeishuRetry):
            adapter_retry.limiter = self.rate_limiter  # a retry takes a slot like any request
        self._token: Union[StaticToken, TokenManager]
        self._app_ticket: Optional[Secret] = None
        self.tenant_key = tenant_key
        if user_access_token:
            self._token = StaticToken(user_access_token)
        elif tenant_key is not None or app_ticket is not None:
            self._setup_store_app(app_id, app_secret, app_ticket, tenant_key, token_store)
        else:
            assert app_id and app_secret
            self._app_secret = Secret(app_secret)
            self._token = TokenManager(
                self._fetch_tenant_token,
                store_key("tat", self.base_url, app_id, app_secret),
                store=token_store,
            )
        self._auth = BearerAuth(self._token)

    def _setup_store_app(self, app_id: Optional[str], app_secret: Optional[str], app_ticket: Optional[str],
                         tenant_key: Optional[str], token_store: Any) -> None:
        """A store (ISV) app: app_access_token from the app_ticket, then the tenant's token;
        each cached under its own key."""
        if not self.spec.store_apps:
            raise ConfigError("store apps (app_ticket, tenant_key) exist on feishu and lark only")
        if not (app_id and app_secret and tenant_key):
            raise ConfigError("a store app needs app_id, app_secret, app_ticket and tenant_key")
        self._app_secret = Secret(app_secret)
        self.app_ticket = app_ticket
        self._app_token = TokenManager(
            self._fetch_app_token, store_key("aat", self.base_url, app_id, app_secret), store=token_store
        )
        self._token = TokenManager(
            self._fetch_store_tenant_token,
            store_key("tat-" + tenant_key, self.base_url, app_id, app_secret),
            store=token_store,
        )

    @property
    def app_ticket(self) -> Optional[str]:
        """The store app's app_ticket (Feishu pushes a new one hourly): settable on a live client."""
        return self._app_ticket.reveal() if self._app_ticket is not None else None

    @app_ticket.setter
    def app_ticket(self, value: Optional[str]) -> None:
        self._app_ticket = Secret(value) if value else None

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

    # -- HTTP ---------------------------------------------------------------------------

    def _fetch_tenant_token(self) -> Tuple[str, float]:
        body = {"app_id": self.app_id, "app_secret": self._app_secret.reveal()}
        return self._post_for_token(self.spec.token_path, body, "tenant_access_token")

    def _fetch_app_token(self) -> Tuple[str, float]:
        if self._app_ticket is None:
            raise ConfigError("a store app needs its app_ticket: set client.app_ticket (Feishu pushes it hourly)")
        body = {"app_id": self.app_id, "app_secret": self._app_secret.reveal(), "app_ticket": self.app_ticket}
        return self._post_for_token(APP_TOKEN_PATH, body, "app_access_token")

    def _fetch_store_tenant_token(self) -> Tuple[str, float]:
        app_token = self._app_token.get()
        body = {"app_access_token": app_token, "tenant_key": self.tenant_key}
        try:
            return self._post_for_token(STORE_TENANT_TOKEN_PATH, body, "tenant_access_token")
        except APIError as exc:
            if exc.code not in TOKEN_INVALID_CODES:
                raise
            self._app_token.invalidate(app_token)  # the app token went stale: once more with a new one
            body["app_access_token"] = self._app_token.get()
            return self._post_for_token(STORE_TENANT_TOKEN_PATH, body, "tenant_access_token")

    def _post_for_token(self, path: str, body: Dict[str, Any], field: str) -> Tuple[str, float]:
        response = send(self.session, "POST", self.base_url + path, json=body, timeout=self.timeout)
        answer = read_json(response)
        if self.spec.token_in_data and isinstance(answer.get("data"), dict):
            answer = answer["data"]
        token = answer.get(field)
        if not isinstance(token, str) or not token:
            raise APIError(None, "the token answer holds no %s" % field, http_status=response.status_code)
        return token, float(answer.get("expire") or 7200)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send an authenticated request; a token the server calls invalid is dropped,
        a new one fetched and the request sent once more."""
        kwargs.setdefault("timeout", self.timeout)
        url = self.base_url + path
        response = self._send(method, url, kwargs)
        if self._token_rejected(response, bool(kwargs.get("stream"))):
            used = self._auth.token_of(response.request)
            response.close()
            log.debug("%s %s: the token was rejected; fetching a new one and sending once more", method, path)
            if used:
                self._token.invalidate(used)
            response = self._send(method, url, kwargs)
        return response

    def _send(self, method: str, url: str, kwargs: Dict[str, Any]) -> requests.Response:
        # The token first (a fetch, if one is due), so that a rate-limit slot, once taken, is
        # used at once by this very request.
        auth = self._auth.with_token(self._token.get())
        limiter = self.rate_limiter
        if limiter is not None:
            limiter.acquire()
        response = send(self.session, method, url, auth=auth, **kwargs)
        if limiter is not None and response.status_code == 429:
            # Still throttled after the transport's retries: hold every thread back a while.
            limiter.pause(retry_wait(response, default=1.0))
        return response

    def _limited(self, limiter: Any) -> "Client":
        """This client (same session, same tokens) under other limits, for one job."""
        twin = copy.copy(self)
        twin.rate_limiter = limiter
        twin._own_session = False
        return twin

    def _documented(self, which: str, what: str) -> str:
        path = getattr(self.spec, which)
        if path is None:
            raise ConfigError(
                "the %s platform documents no endpoint for %s; if your gateway passes Feishu's own "
                "paths through, use platform='feishu' with its base_url" % (self.platform, what))
        return str(path)

    def _token_rejected(self, response: requests.Response, stream: bool) -> bool:
        if not isinstance(self._token, TokenManager):
            return False  # a user token cannot be refreshed here: its error goes to the caller
        if stream and response.status_code < 400:
            return False  # a streamed success is the resource itself: do not read into it
        return error_code_of(response) in TOKEN_INVALID_CODES

    # -- endpoints ----------------------------------------------------------------------

    def iter_messages(
        self,
        container_id: str,
        start_time: Union[None, int, float, datetime.datetime] = None,
        end_time: Union[None, int, float, datetime.datetime] = None,
        sort: str = "asc",
        page_size: int = 50,
        container_id_type: str = "chat",
    ) -> Iterator[Message]:
        """A chat's (or a thread's) history, page after page, as ``Message`` objects.

        Times are datetimes (naive ones are local time) or epoch seconds, both inclusive;
        Feishu filters threads by time not at all, so times with a thread are refused.
        Recalled messages come through with ``deleted=True``.
        """
        if container_id_type not in ("chat", "thread"):
            raise ConfigError("container_id_type must be 'chat' or 'thread', not %r" % (container_id_type,))
        if sort not in ("asc", "desc"):
            raise ConfigError("sort must be 'asc' or 'desc', not %r" % (sort,))
        if not 1 <= page_size <= 50:
            raise ConfigError("page_size must be between 1 and 50, not %r" % (page_size,))
        if container_id_type == "thread" and (start_time is not None or end_time is not None):
            raise ConfigError("Feishu does not filter threads by time: leave start_time and end_time out")
        quote_id("container_id", container_id)
        list_path = self._documented("list_path", "chat history")
        params: Dict[str, Any] = {
            "container_id_type": container_id_type,
            "container_id": container_id,
            "sort_type": "ByCreateTimeAsc" if sort == "asc" else "ByCreateTimeDesc",
            "page_size": page_size,
        }
        if start_time is not None:
            params["start_time"] = str(epoch_seconds(start_time))
        if end_time is not None:
            params["end_time"] = str(epoch_seconds(end_time))
        while True:
            data = read_json(self.request("GET", list_path, params=params)).get("data") or {}
            for item in data.get("items") or []:
                if isinstance(item, dict):
                    yield Message.from_api(item)
            token = data.get("page_token")
            if not data.get("has_more") or not token:
                return
            params["page_token"] = token

    def export_chat(
        self,
        chat_id: str,
        dest_dir: Union[str, "os.PathLike[str]"],
        start_time: Union[None, int, float, datetime.datetime] = None,
        end_time: Union[None, int, float, datetime.datetime] = None,
        workers: int = 4,
        max_rate: Optional[int] = None,
        progress: Optional[Callable[["ExportProgress"], None]] = None,
    ) -> "ExportSummary":
        """Every attachment of a chat's history into ``dest_dir``, resumable.

        ``workers`` threads share this client and its rate limit (``max_rate`` requests a
        second for this export, else the client's). Layout, manifest and resuming: see
        ``feishu_msgres.export``. A resource that fails is recorded and the export goes on.
        """
        from .export import export_chat  # threads and all: loaded by the first export only

        return export_chat(self, chat_id, dest_dir, start_time, end_time, workers, max_rate, progress)

    def get_message(self, message_id: str, user_id_type: Optional[str] = None) -> Message:
        """The message, with its merge_forward children and downloadable resources."""
        params = {"user_id_type": user_id_type} if user_id_type else None
        path = self.spec.message_path % quote_id("message_id", message_id)
        data = read_json(self.request("GET", path, params=params)).get("data") or {}
        items = None
        if isinstance(data, dict):
            # Feishu: {"items": [message, children...]}; BOSS Hi: the message itself
            items = data.get("items") if "items" in data else ([data] if data.get("message_id") else None)
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
        opener = self._resource_opener(message_id, file_key, type)
        return download(opener, file_key, dest, type == "file", self.download_settings,
                        overwrite, progress, checksum, add_extension, _taken)

    def open_resource(self, message_id: str, file_key: str, type: str,
                      progress: Optional[Progress] = None, checksum: bool = False) -> ResourceStream:
        """The resource as a ``ResourceStream`` of chunks, held nowhere: to pass on (a Django
        ``StreamingHttpResponse``, an upload) in constant memory. The first request is sent
        now, so ``content_type``, ``filename`` and ``size`` are there to set headers from."""
        opener = self._resource_opener(message_id, file_key, type)
        return ResourceStream(Transfer(opener, file_key, Target(None, False), type == "file",
                                       self.download_settings, progress, checksum))

    def iter_resource(self, message_id: str, file_key: str, type: str) -> Iterator[bytes]:
        """The resource's bytes, chunk by chunk (``open_resource`` without the headers)."""
        with self.open_resource(message_id, file_key, type) as stream:
            yield from stream

    def read_resource(self, message_id: str, file_key: str, type: str,
                      max_bytes: int = 20 * 1024 * 1024) -> ResourceData:
        """A small resource in memory, as ``ResourceData`` (bytes that know their content
        type; an image shows itself in Jupyter). Over ``max_bytes``: ``TooLargeError``, with
        nothing read past the first answer; use ``download_resource`` for those."""
        with self.open_resource(message_id, file_key, type) as stream:
            if stream.size is not None and stream.size > max_bytes:
                raise TooLargeError(None, "%s is %d bytes, over max_bytes=%d: download it to a file instead"
                                    % (file_key, stream.size, max_bytes))
            data = bytearray()
            for chunk in stream:
                data += chunk
                if len(data) > max_bytes:
                    raise TooLargeError(None, "%s is over max_bytes=%d: download it to a file instead"
                                        % (file_key, max_bytes))
            return ResourceData(bytes(data), stream.content_type, stream.filename)

    def _resource_opener(self, message_id: str, file_key: str, type: str) -> OpenResponse:
        """``open_response(extra_headers)`` for one resource, after checking the arguments."""
        if type not in RESOURCE_TYPES:
            raise ConfigError("type must be 'image' or 'file', not %r" % (type,))
        path = self._documented("resource_path", "message resources") % (
            quote_id("message_id", message_id), quote_id("file_key", file_key))
        env = environment_for(self.session, self.base_url + path)

        def open_response(extra_headers: Dict[str, str]) -> requests.Response:
            headers = {"Accept-Encoding": "identity"}
            headers.update(extra_headers)
            return self.request("GET", path, params={"type": type}, headers=headers, stream=True, env=env)

        return open_response

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


def epoch_seconds(value: Union[int, float, datetime.datetime]) -> int:
    """Whole seconds since the epoch, from a datetime (naive: local time) or a number."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    raise ConfigError("a time is a datetime or epoch seconds, not %r" % (value,))


def quote_id(what: str, value: Any) -> str:
    """An id checked and quoted for a URL path; bad ids are refused before any request."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("%s must be a non-empty string" % what)
    if _BAD_ID.search(value) or value in (".", ".."):
        raise ConfigError("%s %r holds characters no id has (/, \\, ?, #, %%, spaces)" % (what, value))
    return quote(value, safe="~-._")
