"""Django: one shared token for every worker, and resources streamed to the browser.

settings.py::

    FEISHU_MSGRES = {
        "APP_ID": "cli_...",
        "APP_SECRET": env("FEISHU_APP_SECRET"),
        "PLATFORM": "feishu",          # or "lark", "bosshi"
        "BASE_URL": None,              # another host, if any
        "CACHE": "default",            # the cache that holds the token (Redis, memcached, ...)
    }

urls.py::

    from feishu_msgres.contrib.django import resource_view
    path("attachments/<str:message_id>/<str:file_key>", resource_view)

Works from Django 1.11 on.
"""
from __future__ import annotations

import threading
from typing import Any, Optional

from django.conf import settings
from django.core.cache import caches
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse

from .. import Client
from .._names import content_disposition
from ..errors import FeishuError, NotFoundError, PermissionDeniedError

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


def resource_response(client: Client, message_id: str, file_key: str, type: str = "file",
                      as_attachment: bool = True) -> StreamingHttpResponse:
    """A response that streams the resource through in chunks, never holding it whole.

    The first request is sent here, so Content-Type, Content-Length and the file name are
    set from the server's answer; Django closes the stream when the browser goes away.
    """
    stream = client.open_resource(message_id, file_key, type)
    response = StreamingHttpResponse(stream, content_type=stream.content_type or "application/octet-stream")
    if stream.size is not None:
        response["Content-Length"] = str(stream.size)
    response["Content-Disposition"] = content_disposition(stream.filename or file_key, as_attachment)
    return response


def resource_view(request: HttpRequest, message_id: str, file_key: str) -> HttpResponse:
    """``GET …?type=image|file`` (default ``file``): the resource, or 404 / 403 / 502."""
    kind = request.GET.get("type", "file")
    if kind not in ("image", "file"):
        raise Http404("type is image or file")
    try:
        return resource_response(client_from_settings(), message_id, file_key, kind)
    except NotFoundError as exc:
        raise Http404(str(exc)) from None
    except PermissionDeniedError as exc:
        return HttpResponse(str(exc), status=403, content_type="text/plain; charset=utf-8")
    except FeishuError as exc:
        return HttpResponse(str(exc), status=502, content_type="text/plain; charset=utf-8")


def _reset_for_tests(client: Any = None) -> None:
    """Forget (or replace) the process's Client, e.g. between tests with other settings."""
    global _client
    with _lock:
        _client = client
