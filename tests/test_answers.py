"""JSON answers are read whole, bounded in size and time; the token check sees them all."""
import json
import time

import pytest
import responses

import feishu_msgres as fm
import feishu_msgres.answers as answers
from helpers import BASE, TOKEN_URL, RawServer, add_token, json_head

MSG_URL = BASE + "/open-apis/im/v1/messages/om_1"


def long_post(n):
    """A rich-text message as people write them: paragraphs of mixed scripts, links, mentions."""
    line = [{"tag": "text", "text": "第%d段：季度报告 quarterly report — отчёт 報告書 تقرير " % n * 3},
            {"tag": "a", "text": "link", "href": "https://example.com/%d" % n},
            {"tag": "at", "user_id": "ou_%d" % n}]
    return {"title": "Report %d" % n, "content": [line for _ in range(6)]}


def test_a_page_of_fifty_long_posts_over_64_kib_is_read(emu):
    chat = "oc_long"
    for n in range(50):
        emu.add_message("post", long_post(n), chat_id=chat)
    with emu.client() as client:
        page = json.dumps([long_post(n) for n in range(50)], ensure_ascii=False).encode()
        assert len(page) > 64 * 1024  # what used to fail: only the first 64 KiB was read
        messages = list(client.iter_messages(chat, page_size=50))
    assert len(messages) == 50
    assert messages[-1].content["title"] == "Report 49"


def test_a_long_message_is_read_by_get(emu):
    post = {"title": "long", "content": [[{"tag": "text", "text": "長" * 100000}]]}
    mid = emu.add_message("post", post)
    with emu.client() as client:
        assert client.get_message(mid).content["content"][0][0]["text"] == "長" * 100000


def test_an_answer_that_trickles_past_the_deadline_is_stopped(monkeypatch):
    monkeypatch.setattr(answers, "ANSWER_DEADLINE", 0.5)
    body = json.dumps({"code": 0, "tenant_access_token": "t", "expire": 7200}).encode()

    def trickle(conn):
        conn.sendall(json_head(len(body)))
        for byte in body:
            conn.sendall(bytes([byte]))
            time.sleep(0.05)  # each read well within the timeout

    with RawServer(trickle) as server:
        client = fm.Client("cli_x", "secret-x", base_url=server.url, timeout=(2, 2), retries=0)
        started = time.monotonic()
        with pytest.raises(fm.TransportError, match="still coming after 0 s; stopped reading"):
            client.get_message("om_1")
        assert time.monotonic() - started < 2


def test_an_answer_over_the_limit_is_an_error_not_held(monkeypatch):
    monkeypatch.setattr(answers, "JSON_LIMIT", 256 * 1024)

    def endless(conn):
        conn.sendall(json_head(1 << 40))
        chunk = b" " * 65536
        for _ in range(1024):  # until the client hangs up (closing first would reset the connection
            conn.sendall(chunk)  # under the client's feet, and it would see a short body instead)

    with RawServer(endless) as server:
        client = fm.Client("cli_x", "secret-x", base_url=server.url, timeout=(2, 2), retries=0)
        with pytest.raises(fm.TransportError, match=r"POST /open-apis/auth/.*over 0 MiB"):
            client.get_message("om_1")


@pytest.mark.parametrize("status", [400, 200])
def test_a_rejected_token_is_spotted_in_a_json_answer_of_any_status(mock, client, status):
    mock.add(responses.POST, TOKEN_URL, json={"code": 0, "tenant_access_token": "t-old", "expire": 7200})
    mock.add(responses.POST, TOKEN_URL, json={"code": 0, "tenant_access_token": "t-new", "expire": 7200})
    mock.add(responses.GET, MSG_URL, status=status, json={"code": 99991663, "msg": "Invalid access token"})
    mock.add(responses.GET, MSG_URL, json={"code": 0, "data": {"items": [{"message_id": "om_1"}]}})
    assert client.get_message("om_1").message_id == "om_1"
    used = [c.request.headers["Authorization"] for c in mock.calls if c.request.method == "GET"]
    assert used == ["Bearer t-old", "Bearer t-new"]


def test_a_callers_own_request_keeps_its_whole_body(mock, client):
    add_token(mock)
    big = {"code": 0, "data": {"blob": "x" * 200000}}
    mock.add(responses.GET, BASE + "/open-apis/x", json=big)
    response = client.request("GET", "/open-apis/x")
    assert response.json() == big
