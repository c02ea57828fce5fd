"""resource_view as a browser meets it: what it can show comes inline under a name with an
extension, the rest as an attachment; failures are 404 / 403 / 502 with bodies that say no
more than that (the upstream's words go to the log only). Issue 15.

Run by the tox envs django-oldest (Django 1.11 on Python 3.7) and django-newest.
"""
import logging

import pytest
from django.core.cache import caches
from django.test import Client as Browser
from django.test import override_settings

# Django's settings can be configured once per process: test_recipe does it (and starts
# the emulator); this module borrows both, whichever module pytest imports first.
from test_recipe import EMULATOR, route

from feishu_msgres.contrib.django import _reset_for_tests, resource_view, shown_inline
from feishu_msgres.demo import pdf, png

urlpatterns = [route(resource_view)]
UPSTREAM_WORDS = "upstream-only words 上游"


@pytest.fixture(autouse=True)
def fresh():
    _reset_for_tests()
    caches["default"].clear()
    EMULATOR.requests.clear()
    with override_settings(ROOT_URLCONF=__name__, DEBUG=False):
        yield
    EMULATOR.clear_faults()


def get(message_id, file_key, kind="file"):
    return Browser().get("/attachments/%s/%s?type=%s" % (message_id, file_key, kind))


def body_of(response):
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def served(data, content_type, filename=None, kind="file"):
    """A message holding one resource, and the view's answer for it."""
    key = ("img_" if kind == "image" else "file_") + "k"
    mid = EMULATOR.add_message("image" if kind == "image" else "file",
                               {"image_key": key} if kind == "image" else {"file_key": key})
    EMULATOR.add_resource(mid, key, data, type=kind, content_type=content_type, filename=filename)
    response = get(mid, key, kind)
    assert response.status_code == 200
    assert body_of(response) == data
    assert response["X-Content-Type-Options"] == "nosniff"
    return response


def test_an_image_without_a_name_is_shown_inline_with_its_extension():
    response = served(png(), "image/png", kind="image")
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == "inline; filename=\"img_k.png\"; filename*=UTF-8''img_k.png"


@pytest.mark.parametrize(
    "content_type, filename, disposition",
    [
        ("application/pdf", "季度报告.pdf",
         "inline; filename=\"????.pdf\"; filename*=UTF-8''%E5%AD%A3%E5%BA%A6%E6%8A%A5%E5%91%8A.pdf"),
        ("text/plain; charset=utf-8", "notes", "inline; filename=\"notes.txt\"; filename*=UTF-8''notes.txt"),
        ("video/mp4", None, "inline; filename=\"file_k.mp4\"; filename*=UTF-8''file_k.mp4"),
        ("audio/mpeg", "voice.mp3", "inline; filename=\"voice.mp3\"; filename*=UTF-8''voice.mp3"),
        ("image/jpeg", "photo", "inline; filename=\"photo.jpg\"; filename*=UTF-8''photo.jpg"),
    ],
)
def test_what_browsers_show_comes_inline(content_type, filename, disposition):
    data = pdf() if content_type == "application/pdf" else b"some bytes"
    response = served(data, content_type, filename)
    assert response["Content-Disposition"] == disposition


@pytest.mark.parametrize(
    "content_type, filename, name",
    [
        ("application/zip", "archive.zip", "archive.zip"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", None, "file_k.docx"),
        ("application/octet-stream", None, "file_k"),
        ("text/html", "page", "page.html"),  # a page of this site's origin: never shown
        ("image/svg+xml", "logo.svg", "logo.svg"),  # an SVG runs scripts: never shown either
    ],
)
def test_other_types_are_attachments(content_type, filename, name):
    response = served(b"<svg onload=alert(1)>", content_type, filename)
    assert response["Content-Disposition"].startswith('attachment; filename="%s"' % name)


def test_shown_inline():
    assert shown_inline("IMAGE/PNG; x=y") and shown_inline("text/plain") and shown_inline("audio/ogg")
    assert not shown_inline(None) and not shown_inline("") and not shown_inline("text/html")
    assert not shown_inline("image/svg+xml") and not shown_inline("application/octet-stream")


def assert_generic(response, status, caplog):
    assert response.status_code == status
    body = body_of(response).decode("utf-8", "replace")
    log_ids = [r.log_id for r in EMULATOR.requests if r.kind == "resource"]
    for word in [UPSTREAM_WORDS, "234", "230", "log_id", EMULATOR.url, "/open-apis/", "emulated"] + log_ids:
        assert word not in body, (word, body)
    assert any(str(status) in r.getMessage() for r in caplog.records)  # the operator is told


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_message_or_file_is_404_without_the_upstreams_words(caplog, debug):
    caplog.set_level(logging.WARNING, logger="feishu_msgres.contrib.django")
    mid = EMULATOR.add_message("file", {"file_key": "file_k"})
    EMULATOR.add_resource(mid, "file_k", b"x")
    with override_settings(DEBUG=debug):
        assert_generic(get("om_no_such_message", "file_k"), 404, caplog)  # 234001 upstream
        assert_generic(get(mid, "file_no_such_key"), 404, caplog)  # 234003
        EMULATOR.fail("resource", 400, code=230001, msg=UPSTREAM_WORDS + ", ext=invalid message_id.")
        assert_generic(get(mid, "file_k"), 404, caplog)
    assert any("234003" in r.getMessage() for r in caplog.records)


def test_a_deleted_message_is_404(caplog):
    mid = EMULATOR.add_message("file", {"file_key": "file_k"}, deleted=True)
    EMULATOR.add_resource(mid, "file_k", b"x")
    assert_generic(get(mid, "file_k"), 404, caplog)


@pytest.mark.parametrize("code", [234004, 234002, 234038, 230027])
def test_a_permission_refusal_is_403_without_the_upstreams_words(caplog, code):
    mid = EMULATOR.add_message("file", {"file_key": "file_k"})
    EMULATOR.add_resource(mid, "file_k", b"x")
    EMULATOR.fail("resource", 400, code=code, msg=UPSTREAM_WORDS)
    assert_generic(get(mid, "file_k"), 403, caplog)


@pytest.mark.parametrize("status, code", [(400, 234041), (400, 234037), (502, None), (500, 999)])
def test_other_upstream_failures_are_502_with_a_generic_body(caplog, status, code):
    mid = EMULATOR.add_message("file", {"file_key": "file_k"})
    EMULATOR.add_resource(mid, "file_k", b"x")
    EMULATOR.fail("resource", status, times=10, code=code, msg=UPSTREAM_WORDS,
                  body=None if code else UPSTREAM_WORDS.encode("utf-8"))
    assert_generic(get(mid, "file_k"), 502, caplog)
