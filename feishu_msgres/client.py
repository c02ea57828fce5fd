"""``Client``: Feishu, Lark and the BOSS Hi gateway: its configuration, its token flow and
the endpoint methods. Requests go through ``connection`` (session, gate, dialect), tokens
through ``TokenAuth``, downloads through the shared front in ``resources``.
"""
from __future__ import annotations

import copy
import functools
import os
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple, TypeVar, Union

import attr
import requests

from . import endpoints
from .answers import code_of
from .auth import FetchedToken, Secret, StaticToken, StoreAppToken, TokenAuth, store_key
from .connection import DEFAULT_TIMEOUT, ClientBase, Connection, Timeout, checked_base_url, checked_timeout, own_session
from .download import MIN_RANGE_SIZE, PROBE_SIZE, RANGE_SIZE, READ_LIMIT, RESUME_TRIES, DownloadSettings, Plan
from .endpoints import Call, Time
from .errors import APIError, ConfigError, FeishuError
from .listing import Chat, MessagePage
from .models import DownloadResult, Message, Resource, ResourceDownload
from .platforms import FORWARDED_REFUSALS, platform_named
from .ratelimit import Gate, RateLimiter
from .transport import Retry, log, send
from .usertoken import refresh_env, refreshed_user_token

if TYPE_CHECKING:  # pragma: no cover
    from ._files import Dest
    from .export import ExportProgress, ExportSummary
    from .resources import ResourceData, ResourceStream
    from .transfer import Progress, Source

# The download front (resources, transfer, _files, _names) loads on the first download, as
# the export and DingTalk do: ``import feishu_msgres`` stays light for scripts that only look.

PathLike = Union[str, "os.PathLike[str]"]
T = TypeVar("T")


class Client(ClientBase):
    """A Feishu / Lark client: ``Client(app_id, app_secret)`` or ``Client(user_access_token=…)``.

    One ``requests.Session`` with retries on its adapter; the tenant token is fetched once,
    cached, refreshed before expiry and shared through ``token_store`` when given.
    Safe to share between threads.
    """

    ENV = {"app_id": "FEISHU_APP_ID", "app_secret": "FEISHU_APP_SECRET", "base_url": "FEISHU_BASE_URL",
           "platform": "FEISHU_PLATFORM", "user_access_token": "FEISHU_USER_ACCESS_TOKEN"}

    def __init__(
        self,
        app_id: Optional[str] = None,
        app_secret: Optional[str] = None,
        *,
        platform: str = "feishu",
        base_url: Optional[str] = None,
        user_access_token: Optional[str] = None,
        user_refresh_token: Optional[str] = None,
        on_user_tokens: Optional[Callable[[Any], Any]] = None,
        app_ticket: Optional[str] = None,
        tenant_key: Optional[str] = None,
        token_store: Any = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        retries: Union[int, Retry] = 3,
        session: Optional[requests.Session] = None,
        probe_size: int = PROBE_SIZE,
        range_size: int = RANGE_SIZE,
        max_range_size: Optional[int] = None,
        min_range_size: int = MIN_RANGE_SIZE,
        resume_tries: int = RESUME_TRIES,
        rate_limit: Optional[Tuple[int, Optional[int]]] = (50, 1000),
    ) -> None:
        self.platform = platform
        self.spec = platform_named(platform)
        if not user_access_token and not (app_id and app_secret):
            raise ConfigError("give app_id and app_secret (FEISHU_APP_ID, FEISHU_APP_SECRET) "
                              "or user_access_token (FEISHU_USER_ACCESS_TOKEN)")
        if (tenant_key is not None or app_ticket is not None) and not user_access_token:
            if not self.spec.store_apps:
                raise ConfigError("store apps (app_ticket, tenant_key) exist on feishu and lark only")
            if not tenant_key:
                raise ConfigError("a store app needs app_id, app_secret, app_ticket and tenant_key")
        url = checked_base_url(base_url or self.spec.base_url)
        self.download_settings = DownloadSettings(probe_size=probe_size, range_size=range_size,
                                                  max_range_size=max(max_range_size or 0, range_size),
                                                  min_range_size=min_range_size, resume_tries=resume_tries)
        # Connections are opened on demand: a roomy pool costs nothing and serves export workers.
        session, self._own_session = own_session(session, retries, pool_maxsize=32)
        self.connection = Connection(session, url, self.spec.dialect, checked_timeout(timeout))
        # Requests per second and per minute (Feishu's documented 50/s and 1000/min); None: off.
        self.rate_limiter = RateLimiter(*rate_limit) if rate_limit else None
        self.app_id = app_id
        self.tenant_key = tenant_key
        self._app_ticket = Secret(app_ticket) if app_ticket else None
        self.tokens = (refreshed_user_token(self, app_id, app_secret, user_refresh_token, user_access_token,
                                            token_store, on_user_tokens) if user_refresh_token
                       else self._token_flow(app_id, app_secret, user_access_token, token_store))
        self._auth = TokenAuth(self.tokens, self.spec.dialect)

    @classmethod
    def from_env(cls, environ: Any = None, **overrides: Any) -> "Client":
        """Also FEISHU_USER_REFRESH_TOKEN (not in ``ENV``: the command decides with ``--as``)."""
        return super().from_env(environ, **dict(refresh_env(environ), **overrides))

    def _token_flow(self, app_id: Optional[str], app_secret: Optional[str], user_access_token: Optional[str],
                    store: Any) -> Any:
        """The provider of this client's token: a user's, an internal app's or a store app's."""
        if user_access_token:
            return StaticToken(user_access_token)
        assert app_id and app_secret
        secret, spec = Secret(app_secret), self.spec

        def post(call: Call) -> Dict[str, Any]:
            # the connection as it is then (its timeout may change); the secret never follows a redirect
            return self.connection.json(call, redirects=False)

        def key(kind: str) -> str:
            return store_key(kind, self.base_url, app_id, app_secret)

        if self.tenant_key is None and self._app_ticket is None:
            return FetchedToken(post, lambda: endpoints.tenant_token(spec, app_id, secret), "tenant_access_token",
                                key("tat"), store, nested=spec.token_in_data)
        tenant_key = self.tenant_key or ""
        app = FetchedToken(post, lambda: endpoints.app_token(app_id, secret, self._require_ticket()),
                           "app_access_token", key("aat"), store)
        return StoreAppToken(post, app, lambda token: endpoints.store_tenant_token(token, tenant_key),
                             spec.dialect, key("tat-" + tenant_key), store)

    def _require_ticket(self) -> Secret:
        if self._app_ticket is None:
            raise ConfigError("a store app needs its app_ticket: set client.app_ticket (Feishu pushes it hourly)")
        return self._app_ticket

    @property
    def rate_limiter(self) -> Optional[RateLimiter]:
        """The limiter every request of this client takes a slot from (None: no limit)."""
        limiters = self.connection.gate.limiters
        return limiters[-1] if limiters else None

    @rate_limiter.setter
    def rate_limiter(self, value: Optional[RateLimiter]) -> None:
        self.connection = self.connection._replace(gate=Gate(value))

    @property
    def app_ticket(self) -> Optional[str]:
        """The store app's app_ticket (Feishu pushes a new one hourly): settable on a live client."""
        return self._app_ticket.reveal() if self._app_ticket is not None else None

    @app_ticket.setter
    def app_ticket(self, value: Optional[str]) -> None:
        self._app_ticket = Secret(value) if value else None

    def __repr__(self) -> str:
        who = "user token" if isinstance(self.tokens, StaticToken) else "app %s" % self.app_id
        return "<feishu_msgres.Client %s, %s>" % (self.base_url, who)

    def with_gate(self, gate: Gate) -> "Client":
        """This client (same session, same tokens) with every request through ``gate``: an
        export's own rate limit and stop switch, leaving the client that others share as it is."""
        view = copy.copy(self)
        view.connection = self.connection.with_gate(gate)
        view._own_session = False
        return view

    # -- requests -------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send an authenticated request to ``path``; a token the server calls invalid is
        dropped, a new one fetched and the request sent once more."""
        kwargs.setdefault("timeout", self.timeout)
        conn = self.connection
        return send(conn.session, method, conn.url(path), gate=conn.gate, auth=self._auth, **kwargs)

    def _json(self, call: Call) -> Dict[str, Any]:
        return self.connection.json(call, auth=self._auth)

    def planned(self, call: Call) -> List[Dict[str, Any]]:
        """What sending ``call`` takes, token requests first, secrets and tokens as ``***``:
        the dry run's plan, built from the same calls a real run sends."""
        calls = [c.shown(self.base_url) for c in self.tokens.plan()]
        return calls + [call.shown(self.base_url, auth_header=self._auth.header)]

    # -- messages -------------------------------------------------------------------------

    def get_message(self, message_id: str, user_id_type: Optional[str] = None) -> Message:
        """The message, with its merge_forward children and downloadable resources."""
        data = self._json(endpoints.message(self.spec, message_id, user_id_type)).get("data") or {}
        items = None
        if isinstance(data, dict):
            # Feishu: {"items": [message, children...]}; BOSS Hi: the message itself
            items = data.get("items") if "items" in data else ([data] if data.get("message_id") else None)
        if not isinstance(items, list) or not any(isinstance(i, dict) and i.get("message_id") for i in items):
            raise APIError(None, "the answer for %s holds no message" % message_id)
        return Message.from_items([i for i in items if isinstance(i, dict)], message_id)

    def iter_messages(self, container_id: str, start_time: Time = None, end_time: Time = None, sort: str = "asc",
                      page_size: int = 50, container_id_type: str = "chat",
                      expand_threads: bool = False, user_id_type: Optional[str] = None) -> Iterator[Message]:
        """A chat's (or a thread's) history, page after page, as ``Message`` objects.

        Times are datetimes (naive ones are local time) or epoch seconds, both inclusive;
        Feishu filters threads by time not at all, so times with a thread are refused.
        Recalled messages come through with ``deleted=True``. ``user_id_type``: the ids of
        senders and mentions (open_id by default, union_id or user_id: seed 001).

        ``expand_threads``: a chat lists a thread's first message only; each thread met is
        listed too (``container_id_type=thread``, oldest first, as lark-cli expands them), its
        replies coming right after the message that opened it, each message once.
        """
        call = endpoints.messages_page(self.spec, container_id, start_time, end_time, sort, page_size,
                                       container_id_type, user_id_type)
        messages = self._pages(call, Message.from_api)
        if expand_threads and container_id_type == "chat":
            messages = self.with_thread_replies(messages, page_size, user_id_type)
        yield from messages

    def list_messages_page(self, container_id: str, *, start_time: Time = None, end_time: Time = None,
                           sort: str = "asc", page_size: int = 50, container_id_type: str = "chat",
                           user_id_type: Optional[str] = None, page_token: Optional[str] = None) -> MessagePage:
        """One page of a history (``iter_messages`` follows them all): the first, or the one
        ``page_token`` names; ``page.page_token`` names the next (None after the last)."""
        call = endpoints.messages_page(self.spec, container_id, start_time, end_time, sort, page_size,
                                       container_id_type, user_id_type, page_token)
        messages, token = self._page(call, Message.from_api)
        return MessagePage(tuple(messages), token)

    def with_thread_replies(self, messages: Iterable[Message], page_size: int = 50,
                            user_id_type: Optional[str] = None) -> Iterator[Message]:
        """``messages``, each thread's replies right after the message that opened it (a
        chat lists only that one: ``iter_messages(expand_threads=True)``), each message once."""
        threads: Set[str] = set()
        from_threads: Set[str] = set()  # replies already given: a chat that lists one too gives it once
        for message in messages:
            if message.message_id in from_threads:
                continue
            yield message
            if message.thread_id and message.thread_id not in threads:
                threads.add(message.thread_id)
                call = endpoints.messages_page(self.spec, message.thread_id, page_size=page_size,
                                               container_id_type="thread", user_id_type=user_id_type)
                for reply in self._pages(call, Message.from_api):
                    if reply.message_id != message.message_id and reply.message_id not in from_threads:
                        from_threads.add(reply.message_id)
                        yield reply

    def iter_chats(self, query: Optional[str] = None, page_size: int = 100,
                   user_id_type: Optional[str] = None) -> Iterator[Chat]:
        """The chats (groups, not p2p) the app or user is in, page after page; with ``query``,
        those a search by name finds among the ones visible to it, its own and public ones."""
        yield from self._pages(endpoints.chats_page(self.spec, query, page_size, user_id_type), Chat.from_api)

    def _page(self, call: Call, parse: Callable[[Dict[str, Any]], T]) -> Tuple[List[T], Optional[str]]:
        """The items of one page of a list call, and the token of the next (None: no more)."""
        data = self._json(call).get("data") or {}
        items = [parse(item) for item in data.get("items") or [] if isinstance(item, dict)]
        token = data.get("page_token")
        return items, (str(token) if data.get("has_more") and token else None)

    def _pages(self, call: Call, parse: Callable[[Dict[str, Any]], T]) -> Iterator[T]:
        """The items of a list call, following ``page_token`` while ``has_more``."""
        while True:
            items, token = self._page(call, parse)
            yield from items
            if token is None:
                return
            call = Call(call.method, call.path, dict(call.params, page_token=token))

    def export_chat(self, chat_id: str, dest_dir: PathLike, start_time: Time = None, end_time: Time = None,
                    workers: int = 4, max_rate: Optional[int] = None,
                    progress: Optional[Callable[["ExportProgress"], None]] = None,
                    retry_failed: bool = False) -> "ExportSummary":
        """Every attachment of a chat's history into ``dest_dir``, resumable.

        ``workers`` threads share this client and its rate limit (``max_rate`` requests a
        second for this export, else the client's). Layout, manifest and resuming: see
        ``feishu_msgres.export``. A resource that fails is recorded and the export goes on;
        one the service refuses for good (234043, 234037, 230110, 234003) is counted in
        ``refused`` and not tried again by later runs unless ``retry_failed``.
        """
        from .export import export_chat  # threads and all: loaded by the first export only

        return export_chat(self, chat_id, dest_dir, start_time, end_time, workers, max_rate, progress, retry_failed)

    # -- resources ------------------------------------------------------------------------

    def resource_call(self, message_id: str, file_key: str, type: str) -> Call:
        """The first request of a resource's download, as sent (the dry run shows it)."""
        call = endpoints.resource(self.spec, message_id, file_key, type)
        first = Plan(file_key, type == "file", self.download_settings).first_headers()
        return Call(call.method, call.path, call.params, dict(call.headers, **first))

    def _source(self, message_id: str, file_key: str, type: str, container_id: Optional[str] = None,
                served: Optional[List[str]] = None) -> "Source":
        """``container_id``: the merge_forward message ``message_id`` was forwarded in. When
        the child's own id is refused (``FORWARDED_REFUSALS``), the container's is tried,
        once, and then asked for every range; ``served`` ends with the id that served."""
        from .transfer import Source

        ids = [message_id] + ([container_id] if container_id and container_id != message_id else [])
        calls = [endpoints.resource(self.spec, i, file_key, type) for i in ids]
        conn, auth, dialect = self.connection, self._auth, self.spec.dialect
        env = conn.environment(calls[0].path)  # read once: a download sends many requests to one URL
        served = [] if served is None else served
        served.append(message_id)

        def open_response(headers: Dict[str, str]) -> requests.Response:
            response = conn.send(calls[0], auth=auth, stream=True, headers=headers, env=env)
            if len(calls) > 1 and response.status_code == 400 and code_of(response, dialect) in FORWARDED_REFUSALS:
                log.debug("%s: refused under the forwarded message %s; asking under %s", file_key, ids[0], ids[1])
                response.close()
                del calls[0], ids[0]
                served.append(ids[0])
                response = conn.send(calls[0], auth=auth, stream=True, headers=headers, env=env)
            return response

        return Source(open_response, file_key, type == "file", dialect, self.download_settings, conn.gate)

    def download_resource(self, message_id: str, file_key: str, type: str, dest: "Dest", *, overwrite: bool = False,
                          progress: Optional["Progress"] = None, checksum: bool = False, add_extension: bool = False,
                          container_id: Optional[str] = None, skip_existing: bool = False,
                          _taken: Optional[Set[str]] = None) -> DownloadResult:
        """Download one image or file of a message to a file object, a path or a folder.

        Files go in HTTP Range requests (a probe, then ranges from ``range_size`` up);
        images in one GET. Breaks resume from the last byte; a path is only ever written
        whole. ``add_extension``: a path without an extension gets the server's.
        ``container_id`` (``Resource.container_id``): the merge_forward message this one was
        forwarded in, asked once if the service refuses ``message_id``; the result's
        ``message_id`` says which served. ``skip_existing``: a file already there with the
        server's name and size is kept, nothing more read (``result.skipped``); one of
        another size is replaced.
        """
        from .resources import save

        served: List[str] = []
        source = self._source(message_id, file_key, type, container_id, served)
        result = save(source, dest, overwrite=overwrite, progress=progress, checksum=checksum,
                      add_extension=add_extension, taken=_taken, skip_existing=skip_existing)
        return attr.evolve(result, message_id=served[-1])

    def open_resource(self, message_id: str, file_key: str, type: str, *, progress: Optional["Progress"] = None,
                      checksum: bool = False) -> "ResourceStream":
        """The resource as a ``ResourceStream`` of chunks, held nowhere: to pass on (a Django
        ``StreamingHttpResponse``, an upload) in constant memory. The first request is sent
        now, so ``content_type``, ``filename`` and ``size`` are there to set headers from."""
        from .resources import open_stream

        return open_stream(self._source(message_id, file_key, type), progress=progress, checksum=checksum)

    def iter_resource(self, message_id: str, file_key: str, type: str) -> Iterator[bytes]:
        """The resource's bytes, chunk by chunk (``open_resource`` without the headers)."""
        from .resources import iter_bytes

        return iter_bytes(self._source(message_id, file_key, type))

    def read_resource(self, message_id: str, file_key: str, type: str, *,
                      max_bytes: int = READ_LIMIT) -> "ResourceData":
        """A small resource in memory, as ``ResourceData`` (bytes that know their content
        type; an image shows itself in Jupyter). Over ``max_bytes``: ``TooLargeError``, with
        nothing read past the first answer; use ``download_resource`` for those."""
        from .resources import read_bytes

        return read_bytes(self._source(message_id, file_key, type), max_bytes=max_bytes)

    def download_all(self, message_id: str, dest_dir: PathLike, *, overwrite: bool = False, checksum: bool = True,
                     progress: Optional[Callable[[Resource, int, Optional[int]], None]] = None,
                     skip_existing: bool = False) -> List[ResourceDownload]:
        """Every resource of a message and of its merge_forward children, into ``dest_dir``.

        Each is tried, whatever became of the others: the API's refusals (234043 for
        forwarded messages, say) and network failures are kept in the outcome, not raised.
        Two resources with the same name never overwrite each other (``a (2).pdf``).
        """
        return list(self.iter_download_all(message_id, dest_dir, overwrite=overwrite, checksum=checksum,
                                           progress=progress, skip_existing=skip_existing))

    def iter_download_all(self, message_id: str, dest_dir: PathLike, *, overwrite: bool = False,
                          checksum: bool = True, progress: Optional[Callable[[Resource, int, Optional[int]], None]]
                          = None, skip_existing: bool = False) -> Iterator[ResourceDownload]:
        """``download_all``, yielding each outcome as soon as it is known."""
        message = self.get_message(message_id)
        folder = os.fspath(dest_dir)
        os.makedirs(folder, exist_ok=True)
        taken: Set[str] = set()
        for res in (r for m in message.walk() for r in m.resources):
            report = None if progress is None else functools.partial(progress, res)
            try:
                result = self.download_resource(res.message_id, res.file_key, res.type, folder, overwrite=overwrite,
                                                progress=report, checksum=checksum, container_id=res.container_id,
                                                skip_existing=skip_existing, _taken=taken)
            except (FeishuError, OSError) as exc:  # OSError: the disk (full, no permission)
                yield ResourceDownload(res, error=exc)
            else:
                yield ResourceDownload(res, result)
