"""Django: one shared token for every worker, resources streamed to the browser, and the
webhook that receives the bot's events.

settings.py::

    FEISHU_MSGRES = {
        "APP_ID": "cli_...",
        "APP_SECRET": env("FEISHU_APP_SECRET"),
        "PLATFORM": "feishu",          # or "lark", "bosshi"
        "BASE_URL": None,              # another host, if any
        "CACHE": "default",            # the cache that holds the token (Redis, memcached, ...)
        # for event_view, from the app's Events and callbacks > Encryption strategy page:
        "VERIFICATION_TOKEN": env("FEISHU_VERIFICATION_TOKEN"),
        "ENCRYPT_KEY": env("FEISHU_ENCRYPT_KEY"),  # if set there: the events extra (README, Install)
    }

urls.py::

    from feishu_msgres.contrib.django import resource_view
    path("attachments/<str:message_id>/<str:file_key>", resource_view)

    from feishu_msgres.contrib.django import event_view

    def on_message(message, event):      # a feishu_msgres.Message and its events.Event
        queue.put(message)               # the answer is due within 3 s: work elsewhere

    path("feishu/events", event_view(on_message))   # the app's request URL

Works from Django 1.11 on.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, Optional, cast

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from .. import Client, Message
from .._names import choose_name, content_disposition
from ..errors import ConfigError, FeishuError, InvalidRequestError, NotFoundError, PermissionDeniedError
from ..events import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DecryptionUnavailableError,
    Event,
    EventError,
    EventRejectedError,
    read_event,
)

log = logging.getLogger(__name__)

_client: Optional[Client] = None
_lock = threading.Lock()


def client_from_settings() -> Client:
    """The process's one Client, built from ``settings.FEISHU_MSGRES`` on first use.

    Its token lives in Django's cache (``CACHE``), so every worker process shares one token
    instead of each fetching its own.
    """
    global _client
    with _lock:
        if _client is None:
            conf = getattr(settings, "FEISHU_MSGRES", {})
            _client = Client(
                conf.get("APP_ID"),
                conf.get("APP_SECRET"),
                platform=conf.get("PLATFORM", "feishu"),
                base_url=conf.get("BASE_URL"),
                token_store=caches[conf.get("CACHE", "default")],
            )
        return _client


# Types a browser shows in the page rather than saving (what the view serves inline). Not
# image/svg+xml: an SVG is a document that runs scripts, and served inline from this site
# a chat's upload would run with its cookies; it goes as an attachment like HTML.
_INLINE_PREFIXES = ("image/", "video/", "audio/")
_INLINE_TYPES = ("application/pdf", "text/plain")
_NOT_INLINE = ("image/svg+xml",)


def shown_inline(content_type: Optional[str]) -> bool:
    """Whether a browser shows this type itself: images, video, audio, PDF and plain text."""
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if not mime or mime in _NOT_INLINE:
        return False
    return mime in _INLINE_TYPES or mime.startswith(_INLINE_PREFIXES)


def resource_response(client: Client, message_id: str, file_key: str, type: str = "file",
                      as_attachment: Optional[bool] = None) -> StreamingHttpResponse:
    """A response that streams the resource through in chunks, never holding it whole.

    The first request is sent here, so Content-Type, Content-Length and the file name are
    set from the server's answer; Django closes the stream when the browser goes away. The
    name is the server's, or the file_key, with the Content-Type's extension when it has
    none. ``as_attachment=None`` shows what a browser can show (``shown_inline``) and offers
    the rest for saving; True or False decide for every type.
    """
    stream = client.open_resource(message_id, file_key, type)
    response = StreamingHttpResponse(stream, content_type=stream.content_type or "application/octet-stream")
    if stream.size is not None:
        response["Content-Length"] = str(stream.size)
    if as_attachment is None:
        as_attachment = not shown_inline(stream.content_type)
    name = choose_name(file_key, stream.filename, stream.content_type)[0]
    response["Content-Disposition"] = content_disposition(name, as_attachment)
    # The upstream's Content-Type is what the browser goes by: never a guess from the bytes
    # (a text file that looks like HTML would otherwise run as a page of this site).
    response["X-Content-Type-Options"] = "nosniff"
    return response


def resource_view(request: HttpRequest, message_id: str, file_key: str) -> HttpResponse:
    """``GET …?type=image|file`` (default ``file``): the resource, or 404 / 403 / 502.

    404: no such message or file (also an invalid id: the ids are the URL's); 403: the app
    may not read it; 502: anything else upstream. The bodies say no more than that: the
    upstream's words (codes, log ids, hints) go to the log, for the operator.
    """
    kind = request.GET.get("type", "file")
    if kind not in ("image", "file"):
        raise Http404("type is image or file")
    try:
        return resource_response(client_from_settings(), message_id, file_key, kind)
    except FeishuError as exc:
        status = _status_of(exc)
        # the operator gets the code, message and log id (an APIError holds no secret)
        log.warning("resource %r/%r: answered %d for %s", message_id, file_key, status, exc)
    if status == 404:  # raised here, not in the except: no upstream error chained to it
        raise Http404("no such attachment")
    return HttpResponse(_GENERIC[status], status=status, content_type="text/plain; charset=utf-8")


_GENERIC = {403: "Forbidden", 502: "Bad Gateway: the chat service did not deliver the attachment"}
# Seed 000's 234001 "Invalid request param.": the request's only parameters are the message
# id and file key from this view's URL (its type is checked above), so the ids name nothing.
_UNKNOWN_IDS = (234001,)


def _status_of(exc: FeishuError) -> int:
    """The status the browser gets for a failure of the resource's request."""
    if isinstance(exc, NotFoundError) or (isinstance(exc, InvalidRequestError) and exc.code in _UNKNOWN_IDS):
        return 404
    if isinstance(exc, PermissionDeniedError):
        return 403
    return 502


def event_view(on_message: Callable[[Message, Event], Any],
               on_event: Optional[Callable[[Event], Any]] = None) -> Callable[[HttpRequest], HttpResponse]:
    """The webhook of the app's event subscription: a POST view, exempt from CSRF (Feishu
    cannot send Django's token; the verification token and the signature stand in for it).

    It answers a url_verification with its challenge, once the token matched; hands each
    received message (``im.message.receive_v1``) to ``on_message(message, event)`` and every
    other event to ``on_event(event)``, if given; and answers 200. The event subscription
    document gives the answer 3 s and sends an event again (after 15 s, 5 min, 1 h and 6 h)
    when it is late or not 200, so handlers should queue their work and skip an
    ``event.event_id`` already seen. A handler's exception is a 500: the event comes again.
    A wrong token or signature is a 403, a body that is not JSON a 400, without details; the
    log says which, never the token or the key.
    """

    def view(request: HttpRequest) -> HttpResponse:
        event = _read_event(request)
        if not isinstance(event, Event):
            return event  # the refusal
        if event.is_message:
            on_message(Message.from_event(event), event)
        elif on_event is not None and not event.is_url_verification:
            on_event(event)
        return JsonResponse(event.answer())

    # Applied by call: Django ships no type hints, and a decorator mypy cannot see through
    # would untype the view.
    return cast(Callable[[HttpRequest], HttpResponse], csrf_exempt(require_POST(view)))


def _event_or_refusal(request: HttpRequest) -> Any:
    """The checked event, or the response that refuses it. The settings are read on each
    request, so tests and reloads may change them."""
    conf = getattr(settings, "FEISHU_MSGRES", {})
    token, key = conf.get("VERIFICATION_TOKEN") or None, conf.get("ENCRYPT_KEY") or None
    if token is None and key is None:
        # Without either, anyone who finds the URL could post messages to the handler.
        raise ImproperlyConfigured("event_view needs FEISHU_MSGRES['VERIFICATION_TOKEN'] (or 'ENCRYPT_KEY')")
    try:
        return read_event(request.body, verification_token=token, encrypt_key=key, headers=_lark_headers(request))
    except EventRejectedError as exc:
        log.warning("refused a Feishu event from %s: %s", request.META.get("REMOTE_ADDR"), exc)
        return HttpResponse(status=403)
    except EventError as exc:
        log.warning("a request to the Feishu event view was not an event: %s", exc)
        return HttpResponse(status=400)
    except (DecryptionUnavailableError, ConfigError) as exc:
        log.error("cannot read Feishu events: %s", exc)  # the operator's to fix: Feishu sends again
        return HttpResponse(status=500)


# Django's error reports list each frame's local variables; these hold the secrets.
_read_event: Callable[[HttpRequest], Any] = sensitive_variables("conf", "token", "key")(_event_or_refusal)


def _lark_headers(request: HttpRequest) -> Dict[str, str]:
    """The signature's headers, from ``META`` (``request.headers`` came in Django 2.2)."""
    found = {}
    for name in (TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER):
        value = request.META.get("HTTP_" + name.upper().replace("-", "_"))
        if value is not None:
            found[name] = value
    return found


def _reset_for_tests(client: Any = None) -> None:
    """Forget (or replace) the process's Client, e.g. between tests with other settings."""
    global _client
    with _lock:
        _client = client
