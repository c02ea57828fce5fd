"""The Django recipe of README.rst, run by Django's own test client against the emulator.

Run by the tox envs django-oldest (Django 1.11 on Python 3.7) and django-newest.
"""
import hashlib

import django
from django.conf import settings

from feishu_msgres.testing import FeishuEmulator

EMULATOR = FeishuEmulator().start()
VIDEO = bytes(range(256)) * 12000  # ~3 MB: a probe and ranges, streamed

try:
    from django.urls import path as _path

    def route(view):
        return _path("attachments/<str:message_id>/<str:file_key>", view)
except ImportError:  # Django 1.11
    from django.conf.urls import url as _url

    def route(view):
        return _url(r"^attachments/(?P<message_id>[^/]+)/(?P<file_key>[^/]+)$", view)

settings.configure(
    DEBUG=False,
    SECRET_KEY="tests-only",
    ALLOWED_HOSTS=["testserver"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    FEISHU_MSGRES={"APP_ID": EMULATOR.app_id, "APP_SECRET": EMULATOR.app_secret, "BASE_URL": EMULATOR.url},
)
django.setup()

from django.core.cache import caches  # noqa: E402  (after setup)
from django.test import Client as Browser  # noqa: E402

from feishu_msgres.contrib.django import _reset_for_tests, client_from_settings, resource_view  # noqa: E402

urlpatterns = [route(resource_view)]


def setup_function(_):
    _reset_for_tests()
    caches["default"].clear()
    EMULATOR.requests.clear()


def _video():
    mid = EMULATOR.add_message("media", {"file_key": "file_v", "file_name": "会议.mp4"})
    EMULATOR.add_resource(mid, "file_v", VIDEO, content_type="video/mp4", filename="会议.mp4")
    return mid


def test_the_view_streams_the_resource():
    mid = _video()
    response = Browser().get("/attachments/%s/file_v" % mid)
    assert response.status_code == 200
    assert response.streaming  # a StreamingHttpResponse: never held whole
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Length"] == str(len(VIDEO))
    assert "filename*=UTF-8''%E4%BC%9A%E8%AE%AE.mp4" in response["Content-Disposition"]
    chunks = list(response.streaming_content)
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == hashlib.sha256(VIDEO).hexdigest()
    assert max(len(c) for c in chunks) <= 1024 * 1024


def test_errors_become_404_and_502():
    mid = _video()
    assert Browser().get("/attachments/%s/file_nope" % mid).status_code == 404
    assert Browser().get("/attachments/%s/file_v?type=video" % mid).status_code == 404
    EMULATOR.fail("resource", 503, times=10)
    assert Browser().get("/attachments/%s/file_v" % mid).status_code == 502
    EMULATOR.clear_faults()


def test_workers_share_one_token_through_the_cache():
    mid = _video()
    first = client_from_settings()
    assert client_from_settings() is first  # one client per process
    Browser().get("/attachments/%s/file_v?type=file" % mid)
    _reset_for_tests()  # another worker process: a new Client, the same cache
    Browser().get("/attachments/%s/file_v" % mid)
    assert EMULATOR.count("token") == 1
