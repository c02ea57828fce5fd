import socket
import time

import pytest
import responses
from urllib3.exceptions import ConnectTimeoutError

import feishu_msgres as fm
from feishu_msgres.transport import FeishuRetry, make_retry
from helpers import BASE, SECRET, TOKEN_URL, add_token

MSG_URL = BASE + "/open-apis/im/v1/messages/om_1"
OK = {"code": 0, "data": {"items": [{"message_id": "om_1"}]}}


def gets(mock):
    return [c for c in mock.calls if c.request.method == "GET"]


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(mock, client, status):
    add_token(mock)
    mock.add(responses.GET, MSG_URL, status=status, body="busy")
    mock.add(responses.GET, MSG_URL, status=status, body="busy")
    mock.add(responses.GET, MSG_URL, json=OK)
    assert client.get_message("om_1").message_id == "om_1"
    assert len(gets(mock)) == 3


def test_after_the_retries_the_last_answer_is_raised_clearly(mock, client):
    add_token(mock)
    mock.add(responses.GET, MSG_URL, status=502, body="<html><h1>502 Bad Gateway</h1></html>",
             content_type="text/html", headers={"X-Tt-Logid": "gw-log"})
    with pytest.raises(fm.APIError) as info:
        client.get_message("om_1")
    err = info.value
    assert err.code is None and err.http_status == 502 and err.log_id == "gw-log"
    assert "not the API's JSON" in str(err) and "text/html" in str(err) and "502 Bad Gateway" in str(err)
    assert len(gets(mock)) == 4  # one try and three retries


def test_a_non_json_success_body_is_a_clear_error(mock, client):
    add_token(mock)
    mock.add(responses.GET, MSG_URL, body="<html>captive portal</html>", content_type="text/html")
    with pytest.raises(fm.APIError, match="not the API's JSON"):
        client.get_message("om_1")


def test_business_errors_are_not_retried(mock, client):
    add_token(mock)
    mock.add(responses.GET, MSG_URL, status=400, json={"code": 230110, "msg": "deleted"})
    with pytest.raises(fm.NotFoundError):
        client.get_message("om_1")
    assert len(gets(mock)) == 1


def test_the_token_post_is_retried(mock, client):
    mock.add(responses.POST, TOKEN_URL, status=503)
    add_token(mock, "t-after-retry")
    mock.add(responses.GET, MSG_URL, json=OK)
    client.get_message("om_1")
    assert mock.calls[-1].request.headers["Authorization"] == "Bearer t-after-retry"


def test_retries_zero_means_one_try(mock):
    add_token(mock)
    mock.add(responses.GET, MSG_URL, status=503, body="busy")
    with pytest.raises(fm.APIError):
        fm.Client("cli_test", SECRET, retries=0).get_message("om_1")
    assert len(gets(mock)) == 1


class _Headers:
    """A response as urllib3's Retry sees it (1.26 asks getheader(), 2.x headers.get())."""

    def __init__(self, headers):
        self.headers = headers

    def getheader(self, name, default=None):
        return self.headers.get(name, default)


@pytest.mark.parametrize(
    "headers, wait",
    [
        ({"x-ogw-ratelimit-reset": "3"}, 3.0),
        ({"x-ogw-ratelimit-reset": "0.5", "Retry-After": "9"}, 0.5),
        ({"x-ogw-ratelimit-reset": "-4"}, 0.0),
        ({"x-ogw-ratelimit-reset": "junk", "Retry-After": "2"}, 2.0),
        ({"Retry-After": "7"}, 7.0),
        ({"x-ogw-ratelimit-reset": "3600"}, FeishuRetry.max_wait),
        ({}, None),
    ],
)
def test_wait_from_headers_is_honoured_and_capped(headers, wait):
    assert make_retry().get_retry_after(_Headers(headers)) == wait


def test_backoff_has_jitter_within_bounds():
    retry = make_retry(total=5, backoff_factor=1.0)
    for _ in range(3):
        retry = retry.increment(method="GET", url="/x", error=ConnectTimeoutError("x"))
    waits = {retry.get_backoff_time() for _ in range(50)}
    assert len(waits) > 1
    assert all(2.0 <= w <= 4.0 for w in waits), waits  # factor * 2**(3-1) = 4; jitter keeps half
    assert make_retry(backoff_factor=0).get_backoff_time() == 0


# -- over real sockets ---------------------------------------------------------------------


def test_ratelimit_reset_header_is_waited_for_over_sockets(emu, emu_client):
    mid = emu.add_message("text", {"text": "hi"})
    emu.rate_limit("message", times=1, reset=0.4)
    started = time.monotonic()
    assert emu_client.get_message(mid).text == "hi"
    assert time.monotonic() - started >= 0.4  # it waited as told, not its own backoff (0)
    assert emu.count("message") == 2


def test_throttled_for_longer_than_the_retries_raises_rate_limit_error(emu, emu_client):
    mid = emu.add_message("text", {"text": "hi"})
    emu.rate_limit("message", times=10, reset=0)
    with pytest.raises(fm.RateLimitError) as info:
        emu_client.get_message(mid)
    assert info.value.code == 99991400 and info.value.http_status == 429
    assert emu.count("message") == 4


@pytest.mark.parametrize("reset", [False, True])
def test_a_dropped_connection_is_retried(emu, emu_client, reset):
    mid = emu.add_message("text", {"text": "hi"})
    emu.disconnect("message", times=2, reset=reset)
    assert emu_client.get_message(mid).text == "hi"
    assert emu.count("message") == 3


def test_connection_refused_after_retries_is_a_transport_error():
    with socket.socket() as probe:  # a port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = fm.Client("cli_test", SECRET, base_url="http://127.0.0.1:%d" % port,
                       retries=make_retry(2, backoff_factor=0), timeout=(1, 1))
    with pytest.raises(fm.TransportError) as info:
        client.get_message("om_1")
    text = str(info.value)
    assert "POST /open-apis/auth/v3/tenant_access_token/internal" in text or "tenant_access_token" in text
    assert SECRET not in text


def test_a_read_timeout_is_a_transport_error(emu):
    mid = emu.add_message("file", {"file_key": "file_slow"})
    emu.add_resource(mid, "file_slow", b"x" * 10000)
    emu.trickle("file_slow", delay=0.5, block=1000)
    client = emu.client(retries=make_retry(0, backoff_factor=0), timeout=(1, 0.2), resume_tries=0)
    import io

    with pytest.raises(fm.TransportError):
        client.download_resource(mid, "file_slow", "file", io.BytesIO())


def test_debug_logs_name_every_request_and_retry_but_no_secret(emu, caplog):
    import logging

    mid = emu.add_message("file", {"file_key": "file_l"})
    emu.add_resource(mid, "file_l", b"z" * 300000)
    emu.fail("message", 503, times=1)
    emu.drop_after("file_l", 1000, after=1)
    caplog.set_level(logging.DEBUG, logger="feishu_msgres")
    with emu.client(retries=make_retry(2, backoff_factor=0)) as client:
        client.get_message(mid)
        emu.expire_tokens()
        import io

        client.download_resource(mid, "file_l", "file", io.BytesIO())
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("feishu_msgres"))
    assert "POST %s/open-apis/auth/v3/tenant_access_token/internal -> 200" % emu.url in text
    assert "GET %s/open-apis/im/v1/messages/%s -> 200" % (emu.url, mid) in text
    assert "retry GET /open-apis/im/v1/messages/%s after HTTP 503" % mid in text
    assert "token was rejected" in text
    assert "log_id emu" in text and " ms" in text
    assert "bytes=0-131071" in text and "resuming" in text
    assert emu.app_secret not in text and "t-emulator" not in text and "Bearer" not in text


def test_every_retry_takes_a_slot_of_the_rate_limit(emu):
    # the transport's retries used to bypass any limit but the client's own, set on the adapter
    mid = emu.add_message("text", {"text": "hi"})
    with emu.client(retries=make_retry(4, backoff_factor=0), rate_limit=(2, None)) as client:
        client.get_message(mid)  # the token and one message: the limiter's window fills
        emu.fail("message", status=503, times=3)
        client.get_message(mid)
    times = [r.time for r in emu.requests]
    assert len(times) == 6
    # never more than 2 requests in any second, retries included (windows of 0.9 s: the
    # emulator stamps arrivals, which a loaded machine can delay by some tens of ms)
    for i in range(len(times)):
        assert sum(1 for t in times if times[i] <= t < times[i] + 0.9) <= 2
    assert times[-1] - times[0] > 2.0  # 6 requests at 2 a second


def test_a_stopped_gate_sends_nothing_more(emu):
    import threading

    from feishu_msgres.ratelimit import Gate, Stopped

    mid = emu.add_message("text", {"text": "hi"})
    stop = threading.Event()
    with emu.client(retries=make_retry(3, backoff_factor=0)) as client:
        view = client.with_gate(Gate(stop=stop))
        assert view.get_message(mid).text == "hi"
        stop.set()
        sent = emu.count()
        with pytest.raises(Stopped):
            view.get_message(mid)
        assert emu.count() == sent
        assert client.get_message(mid).text == "hi"  # the client itself is not stopped


def test_a_stop_ends_a_retry_wait_at_once(emu):
    import threading

    from feishu_msgres.ratelimit import Gate, Stopped

    mid = emu.add_message("text", {"text": "hi"})
    emu.rate_limit("message", times=5, reset=30)  # each retry would wait 30 s
    stop = threading.Event()
    with emu.client(retries=make_retry(3, backoff_factor=0)) as client:
        view = client.with_gate(Gate(stop=stop))
        threading.Timer(0.3, stop.set).start()
        started = time.monotonic()
        with pytest.raises(Stopped):
            view.get_message(mid)
        assert time.monotonic() - started < 5


def test_a_stopped_job_sends_not_even_its_token_request(emu):
    import threading

    from feishu_msgres.ratelimit import Gate, RateLimiter, Stopped

    mid = emu.add_message("text", {"text": "hi"})
    stop = threading.Event()
    stop.set()
    with emu.client() as client:
        with pytest.raises(Stopped):
            client.with_gate(Gate(stop=stop)).get_message(mid)
        assert emu.count() == 0
        own = RateLimiter(100, None)
        client.with_gate(client.connection.gate.joined(own)).get_message(mid)
    assert len(own._sent) == 2  # the token request went through the job's limit too


def test_a_jobs_own_limit_is_taken_before_the_shared_one():
    from feishu_msgres.ratelimit import Gate, RateLimiter

    shared, own = RateLimiter(5, None), RateLimiter(3, None)
    # a slot of the shared limiter is taken last, right before the request leaves: taken
    # first, it could go stale while the job waits on its own limit
    assert Gate(shared).joined(own).limiters == (own, shared)


def test_a_resend_through_a_session_of_the_callers_own_takes_a_slot(emu):
    import requests

    mid = emu.add_message("text", {"text": "hi"})
    with requests.Session() as session, emu.client(session=session, rate_limit=(1000, None)) as client:
        client.get_message(mid)
        emu.expire_tokens()
        client.get_message(mid)  # rejected, a new token, sent once more
        assert emu.count() == 5 and len(client.rate_limiter._sent) == 5


def test_client_request_takes_send_keywords_and_paths_with_urls_in_their_query(mock, client):
    add_token(mock)
    mock.add(responses.GET, BASE + "/open-apis/x", json={"code": 0})
    response = client.request("GET", "/open-apis/x?next=https://example.com/", verify=False, allow_redirects=False)
    assert response.status_code == 200 and mock.calls[-1].request.url.startswith(BASE + "/open-apis/x?next=")


def test_the_connection_can_be_changed_on_a_live_client(emu):
    from feishu_msgres.ratelimit import RateLimiter

    mid = emu.add_message("text", {"text": "hi"})
    with emu.client() as client:
        client.timeout = (3, 4)
        limiter = client.rate_limiter = RateLimiter(100, None)
        client.get_message(mid)
        assert client.connection.timeout == (3, 4) and len(limiter._sent) == 2
        client.base_url = emu.url + "/"
        assert client.base_url == emu.url
