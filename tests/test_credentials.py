"""Credentials stay on their host: redirects never carry them elsewhere (issue 14)."""
import io

import pytest
import requests

import feishu_msgres as fm
from feishu_msgres.testing._faults import Actions
from feishu_msgres.testing.dingtalk import DingTalkEmulator
from helpers import RawServer, json_head

NOT_FOUND = b'{"code": 404, "msg": "nothing here"}'


def attacker():
    """A host of someone else's that records what reaches it (localhost: another host name
    than the emulators' 127.0.0.1, so requests treats it as another host)."""
    def answer(conn):
        conn.sendall(json_head(len(NOT_FOUND), "404 Not Found") + NOT_FOUND)

    server = RawServer(answer)
    server.url = server.url.replace("127.0.0.1", "localhost")
    return server


def test_a_token_request_never_follows_a_redirect(emu):
    with attacker() as evil:
        emu.fail("token", 307, headers={"Location": evil.url + "/steal"}, body=b"")
        with emu.client() as client:
            with pytest.raises(fm.TransportError) as info:
                client.get_message(emu.add_message("text", {"text": "hi"}))
        assert evil.requests == []  # the app secret went nowhere
    text = str(info.value)
    assert "HTTP 307" in text and "localhost" in text and "not followed" in text and "/steal" not in text
    assert emu.app_secret not in text


def test_a_store_apps_token_requests_never_follow_a_redirect(emu):
    with attacker() as evil:
        emu.fail("app_token", 302, headers={"Location": evil.url}, body=b"")
        with emu.client(app_ticket=emu.app_ticket, tenant_key="tk_emulator") as client:
            with pytest.raises(fm.TransportError):
                client.get_message(emu.add_message("text", {"text": "hi"}))
        assert evil.requests == []


def test_dingtalks_token_header_is_dropped_on_a_redirect_to_another_host():
    with DingTalkEmulator() as ding, attacker() as evil:
        ding.add_file("dc_1", b"x", content_type="image/png")
        ding._add_fault("download_url", None, 1, 0, Actions(status=307, headers={"Location": evil.url}, body=b""))
        with ding.client() as client:
            with pytest.raises(fm.APIError):
                client.download("dc_1", io.BytesIO())
        (seen,) = evil.requests
    head = seen.split(b"\r\n\r\n", 1)[0].lower()
    assert b"x-acs-dingtalk-access-token" not in head and b"authorization" not in head


def test_a_session_of_your_own_refuses_the_redirect_rather_than_carry_dingtalks_token():
    with DingTalkEmulator() as ding, attacker() as evil:
        ding.add_file("dc_1", b"x", content_type="image/png")
        ding._add_fault("download_url", None, 1, 0, Actions(status=307, headers={"Location": evil.url}, body=b""))
        with requests.Session() as own, ding.client(session=own) as client:
            with pytest.raises(fm.TransportError, match="not followed"):
                client.download("dc_1", io.BytesIO())
        assert evil.requests == []


def test_the_feishu_token_is_dropped_on_a_redirect_to_another_host(emu):
    with attacker() as evil:
        mid = emu.add_message("text", {"text": "hi"})
        emu.fail("message", 302, headers={"Location": evil.url + "/x"}, body=b"")
        with emu.client() as client:
            with pytest.raises(fm.APIError):
                client.get_message(mid)
        (seen,) = evil.requests
    assert b"authorization" not in seen.split(b"\r\n\r\n", 1)[0].lower()


def _frames(exc):
    """Every frame of a traceback and of the exceptions it chains (what error trackers keep)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            yield tb.tb_frame
            tb = tb.tb_next
        exc = exc.__cause__ or exc.__context__


def _closed_port_url():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d" % probe.getsockname()[1]


@pytest.mark.parametrize("platform", ["feishu", "dingtalk"])
def test_a_failed_token_fetch_leaves_no_secret_in_any_frames_locals(platform):
    secret = "s3cret-in-a-frame-%s" % platform
    if platform == "feishu":
        client = fm.Client("cli_x", secret, base_url=_closed_port_url(), retries=1)
        call = lambda: client.get_message("om_1")  # noqa: E731
    else:
        client = fm.DingTalkClient("ding_x", secret, robot_code="r", base_url=_closed_port_url(), retries=1)
        call = lambda: client.download("dc_1", io.BytesIO())  # noqa: E731
    with pytest.raises(fm.TransportError) as info:
        call()
    leaks = []
    for frame in _frames(info.value):
        if frame.f_code.co_filename == __file__ or "/http/client.py" in frame.f_code.co_filename:
            continue  # ours here; http.client's joins head and body into the bytes it sends
        for name, value in list(frame.f_locals.items()):
            if secret in repr(value):
                leaks.append("%s:%s %s" % (frame.f_code.co_filename, frame.f_code.co_name, name))
    assert leaks == []


# -- a shared token_store after a revocation, and a store that fails -----------------------------

class Store:
    """Django's cache API (get, set, delete), shared by the managers below as by processes."""

    def __init__(self):
        self.data = {}

    def get(self, key, default=None):
        return self.data.get(key, default)

    def set(self, key, value, timeout):
        self.data[key] = value

    def delete(self, key):
        self.data.pop(key, None)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _manager(store, clock, tokens):
    from feishu_msgres.auth import TokenManager

    return TokenManager(lambda: (tokens.pop(0), 7200), "k", store=store, clock=clock)


def test_after_a_rejection_a_token_stored_before_it_is_not_taken():
    store, clock = Store(), Clock()
    a = _manager(store, clock, ["t-a1", "t-a2"])
    b = _manager(store, clock, ["t-b1"])
    assert a.get() == "t-a1"
    clock.now += 10
    b._token = None
    store.data["k"] = {"token": "t-b1", "expires_at": clock.now + 7200, "fetched_at": clock.now}  # b's, before
    clock.now += 10
    a.invalidate("t-a1")  # a revocation killed t-a1, and t-b1 with it
    assert a.get() == "t-a2"  # fetched anew, not t-b1 from the store
    assert store.data["k"]["token"] == "t-a2"


def test_after_a_rejection_a_token_stored_later_is_taken():
    store, clock = Store(), Clock()
    a = _manager(store, clock, ["t-a1", "t-never"])
    a.get()
    a.invalidate("t-a1")
    clock.now += 5
    store.data["k"] = {"token": "t-new", "expires_at": clock.now + 7200, "fetched_at": clock.now}
    assert a.get() == "t-new"


class BrokenStore:
    def get(self, key, default=None):
        raise ConnectionError("redis is down")

    def set(self, key, value, timeout):
        raise ConnectionError("redis is down")

    def delete(self, key):
        raise ConnectionError("redis is down")


def test_a_store_that_fails_is_warned_of_and_done_without(caplog):
    import logging

    clock = Clock()
    manager = _manager(BrokenStore(), clock, ["t-1", "t-2"])
    with caplog.at_level(logging.WARNING, logger="feishu_msgres"):
        assert manager.get() == "t-1"
        assert manager.get() == "t-1"  # kept here meanwhile
        manager.invalidate("t-1")
        assert manager.get() == "t-2"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and all("redis is down" in w and "t-1" not in w for w in warnings)


def test_a_client_with_a_failing_store_still_works(emu):
    mid = emu.add_message("text", {"text": "hi"})
    with emu.client(token_store=BrokenStore()) as client:
        assert client.get_message(mid).text == "hi"
