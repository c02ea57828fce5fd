import threading
import time

import pytest
import responses

import feishu_msgres as fm
from feishu_msgres.auth import REFRESH_MARGIN, TokenManager
from helpers import BASE, SECRET, TOKEN_URL, add_token

MSG_URL = BASE + "/open-apis/im/v1/messages/om_1"
OK_MESSAGE = {"code": 0, "msg": "success", "data": {"items": [{"message_id": "om_1", "msg_type": "text"}]}}


class FakeCache:
    """Django's cache API: get(key, default=None), set(key, value, timeout), delete(key)."""

    def __init__(self):
        self.data = {}
        self.timeouts = {}

    def get(self, key, default=None):
        return self.data.get(key, default)

    def set(self, key, value, timeout):
        self.data[key] = value
        self.timeouts[key] = timeout

    def delete(self, key):
        self.data.pop(key, None)


def auth_headers(mock):
    return [c.request.headers.get("Authorization") for c in mock.calls if c.request.method == "GET"]


def test_token_is_fetched_once_and_reused(mock, client):
    add_token(mock, "t-one")
    mock.add(responses.GET, MSG_URL, json=OK_MESSAGE)
    client.get_message("om_1")
    client.get_message("om_1")
    assert len(mock.calls) == 3
    assert mock.calls[0].request.url == TOKEN_URL
    assert auth_headers(mock) == ["Bearer t-one", "Bearer t-one"]


def test_token_is_refreshed_before_it_expires(mock, client):
    # a token with less life left than the refresh margin is never reused
    add_token(mock, "t-short", expire=int(REFRESH_MARGIN) - 10)
    mock.add(responses.GET, MSG_URL, json=OK_MESSAGE)
    client.get_message("om_1")
    client.get_message("om_1")
    assert sum(1 for c in mock.calls if c.request.url == TOKEN_URL) == 2


def test_token_manager_refreshes_on_its_clock():
    now = [1000.0]
    fetched = []

    def fetch():
        fetched.append(1)
        return "t-%d" % len(fetched), 7200

    manager = TokenManager(fetch, "k", clock=lambda: now[0])
    assert manager.get() == "t-1"
    now[0] += 7200 - REFRESH_MARGIN - 1
    assert manager.get() == "t-1"
    now[0] += 2
    assert manager.get() == "t-2"
    assert "t-" not in repr(manager)


@pytest.mark.parametrize("code", [99991663, 99991661, 99991668])
def test_invalid_token_is_dropped_refetched_and_the_call_retried_once(mock, client, code):
    mock.add(responses.POST, TOKEN_URL, json={"code": 0, "tenant_access_token": "t-old", "expire": 7200})
    mock.add(responses.POST, TOKEN_URL, json={"code": 0, "tenant_access_token": "t-new", "expire": 7200})
    mock.add(responses.GET, MSG_URL, status=400, json={"code": code, "msg": "Invalid access token"})
    mock.add(responses.GET, MSG_URL, json=OK_MESSAGE)
    assert client.get_message("om_1").message_id == "om_1"
    assert auth_headers(mock) == ["Bearer t-old", "Bearer t-new"]


def test_a_second_invalid_token_answer_is_raised(mock, client):
    mock.add(responses.POST, TOKEN_URL, json={"code": 0, "tenant_access_token": "t-a", "expire": 7200})
    mock.add(responses.POST, TOKEN_URL, json={"code": 0, "tenant_access_token": "t-b", "expire": 7200})
    mock.add(responses.GET, MSG_URL, status=400, json={"code": 99991663, "msg": "Invalid access token"},
             headers={"X-Tt-Logid": "log-2"})
    with pytest.raises(fm.AuthError) as info:
        client.get_message("om_1")
    assert info.value.code == 99991663
    assert info.value.log_id == "log-2"
    assert len([c for c in mock.calls if c.request.method == "GET"]) == 2


def test_sixteen_threads_starting_together_fetch_one_token(mock, client):
    def slow_token(request):
        time.sleep(0.2)  # wide open race window
        return 200, {}, '{"code":0,"tenant_access_token":"t-shared","expire":7200}'

    mock.add_callback(responses.POST, TOKEN_URL, callback=slow_token)
    mock.add(responses.GET, MSG_URL, json=OK_MESSAGE)
    barrier = threading.Barrier(16)
    errors = []

    def work():
        barrier.wait()
        try:
            client.get_message("om_1")
        except Exception as exc:  # reported below, the assert names it
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(1 for c in mock.calls if c.request.url == TOKEN_URL) == 1
    assert set(auth_headers(mock)) == {"Bearer t-shared"}


def test_token_store_shares_one_token_between_clients(mock):
    store = FakeCache()
    add_token(mock, "t-stored", expire=7200)
    mock.add(responses.GET, MSG_URL, json=OK_MESSAGE)
    with fm.Client("cli_test", SECRET, token_store=store) as a, fm.Client("cli_test", SECRET, token_store=store) as b:
        a.get_message("om_1")
        b.get_message("om_1")
    assert sum(1 for c in mock.calls if c.request.url == TOKEN_URL) == 1
    assert auth_headers(mock) == ["Bearer t-stored", "Bearer t-stored"]
    (key,) = store.data
    assert SECRET not in key and "cli_test" in key and BASE in key
    # the store forgets the token before the server does
    assert store.timeouts[key] == 7200 - int(REFRESH_MARGIN)


def test_token_store_key_changes_with_the_secret(mock):
    store = FakeCache()
    mock.add(responses.POST, TOKEN_URL, json={"code": 0, "tenant_access_token": "t-1", "expire": 7200})
    mock.add(responses.POST, TOKEN_URL, json={"code": 0, "tenant_access_token": "t-2", "expire": 7200})
    mock.add(responses.GET, MSG_URL, json=OK_MESSAGE)
    fm.Client("cli_test", SECRET, token_store=store).get_message("om_1")
    fm.Client("cli_test", "rotated-secret", token_store=store).get_message("om_1")
    assert len(store.data) == 2
    assert auth_headers(mock) == ["Bearer t-1", "Bearer t-2"]


def test_invalidation_reaches_the_token_store(mock):
    store = FakeCache()
    mock.add(responses.POST, TOKEN_URL, json={"code": 0, "tenant_access_token": "t-old", "expire": 7200})
    mock.add(responses.POST, TOKEN_URL, json={"code": 0, "tenant_access_token": "t-new", "expire": 7200})
    mock.add(responses.GET, MSG_URL, status=400, json={"code": 99991663, "msg": "Invalid access token"})
    mock.add(responses.GET, MSG_URL, json=OK_MESSAGE)
    fm.Client("cli_test", SECRET, token_store=store).get_message("om_1")
    assert [v["token"] for v in store.data.values()] == ["t-new"]


def test_store_without_delete_is_overwritten_on_invalidation():
    class NoDelete(FakeCache):
        delete = None

    store = NoDelete()
    manager = TokenManager(lambda: ("t-1", 7200), "k", store=store)
    manager.get()
    manager.invalidate("t-1")
    assert store.data["k"] is None
    manager.invalidate("t-unknown")  # a token nobody holds: nothing happens


def test_a_stale_or_junk_store_entry_is_ignored():
    store = FakeCache()
    store.set("k", {"token": "t-stale", "expires_at": time.time() + 10}, 10)
    manager = TokenManager(lambda: ("t-fresh", 7200), "k", store=store)
    assert manager.get() == "t-fresh"
    store.set("k2", "junk", 10)
    assert TokenManager(lambda: ("t-2", 7200), "k2", store=store).get() == "t-2"


def test_user_access_token_is_used_as_is(mock):
    mock.add(responses.GET, MSG_URL, json=OK_MESSAGE)
    with fm.Client(user_access_token="u-user-token") as c:
        c.get_message("om_1")
    assert [call.request.url for call in mock.calls] == [MSG_URL]
    assert auth_headers(mock) == ["Bearer u-user-token"]
    assert "u-user-token" not in repr(c)


def test_an_invalid_user_token_is_raised_not_refetched(mock):
    mock.add(responses.GET, MSG_URL, status=400, json={"code": 99991668, "msg": "user token expired"})
    with pytest.raises(fm.AuthError):
        fm.Client(user_access_token="u-old").get_message("om_1")
    assert len(mock.calls) == 1


def test_bad_credentials_name_the_code_and_never_the_secret(mock, client):
    mock.add(responses.POST, TOKEN_URL, status=400, json={"code": 10014, "msg": "app secret invalid"})
    with pytest.raises(fm.AuthError) as info:
        client.get_message("om_1")
    assert info.value.code == 10014
    assert "10014" in str(info.value) and "app secret invalid" in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)


def test_a_token_answer_without_a_token_is_an_error(mock, client):
    mock.add(responses.POST, TOKEN_URL, json={"code": 0, "msg": "ok"})
    with pytest.raises(fm.APIError, match="no tenant_access_token"):
        client.get_message("om_1")


def test_expired_tokens_are_replaced_over_real_sockets(emu, emu_client):
    mid = emu.add_message("text", {"text": "hi"})
    emu_client.get_message(mid)
    emu.expire_tokens()
    assert emu_client.get_message(mid).text == "hi"
    assert emu.count("token") == 2
    assert emu.count("message") == 3
