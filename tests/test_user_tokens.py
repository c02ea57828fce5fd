"""User tokens that last: refreshed with a single-use, rotating refresh token (issue 16),
over the emulator's sockets."""
import logging
import threading
import time
import traceback

import pytest

import feishu_msgres as fm
from feishu_msgres.testing import FeishuEmulator
from feishu_msgres.usertoken import RefreshedUserToken, UserTokens


class Store:
    """A shared cache with Django's shape (``add`` included), as processes would share one."""

    def __init__(self, with_add=True):
        self.data = {}
        self.lock = threading.Lock()
        if not with_add:
            self.add = None

    def get(self, key, default=None):
        with self.lock:
            return self.data.get(key, default)

    def set(self, key, value, timeout=None):
        with self.lock:
            self.data[key] = value

    def add(self, key, value, timeout=None):  # noqa: F811 (replaced by None without add)
        with self.lock:
            if key in self.data:
                return False
            self.data[key] = value
            return True

    def delete(self, key):
        with self.lock:
            self.data.pop(key, None)


@pytest.fixture
def emu():
    with FeishuEmulator() as server:
        server.message_id = server.add_message("text", {"text": "hi"})
        yield server


def user_client(emu, pair, **kwargs):
    return emu.client(app_id=emu.app_id, app_secret=emu.app_secret, user_refresh_token=pair["refresh_token"],
                      **kwargs)


def later(client, seconds):
    client.tokens._clock = lambda: time.time() + seconds


def test_first_call_refreshes_and_hands_the_pair_to_store_and_callback(emu):
    pair, store, seen = emu.issue_user_tokens(), Store(), []
    with user_client(emu, pair, token_store=store, on_user_tokens=seen.append) as client:
        assert client.get_message(emu.message_id).message_id == emu.message_id
    assert emu.count("oauth_token") == 1
    (new,) = seen
    assert isinstance(new, UserTokens) and new.refresh_token != pair["refresh_token"]
    assert new.scope == pair["scope"] and new.expires_at > time.time() + 7000
    (stored,) = [v for k, v in store.data.items() if not k.endswith(":lock")]
    assert stored["refresh_token"] == new.refresh_token and stored["access_token"] == new.access_token
    assert not any(k.endswith(":lock") for k in store.data)  # the lock is given back


def test_a_given_access_token_is_used_then_refreshed_before_expiry(emu):
    pair, seen = emu.issue_user_tokens(), []
    with user_client(emu, pair, user_access_token=pair["access_token"], on_user_tokens=seen.append) as client:
        client.get_message(emu.message_id)
        assert emu.count("oauth_token") == 0  # the given access token, while the server takes it
        client.get_message(emu.message_id)  # one refresh: the given one's expiry is not known
        emu.expire_tokens()
        client.get_message(emu.message_id)  # rejected (99991663): refreshed, sent once more
        assert emu.count("oauth_token") == 1
        first = seen[-1]
        client.get_message(emu.message_id)
        assert emu.count("oauth_token") == 1
        later(client, 7200 - 200)  # within REFRESH_MARGIN of expiry: refreshed before it
        client.get_message(emu.message_id)
        assert emu.count("oauth_token") == 2 and seen[-1].refresh_token != first.refresh_token


def test_rotation_is_taken_by_another_process_sharing_the_store(emu):
    pair, store = emu.issue_user_tokens(), Store()
    with user_client(emu, pair, token_store=store) as a, user_client(emu, pair, token_store=store) as b:
        a.get_message(emu.message_id)
        b.get_message(emu.message_id)  # takes a's pair: the given refresh token is spent
        assert emu.count("oauth_token") == 1
        later(a, 7200 - 200)
        later(b, 7200 - 100)
        a.get_message(emu.message_id)
        b.get_message(emu.message_id)  # a rotated again: b re-reads the store, spends nothing
        assert emu.count("oauth_token") == 2
        assert a.tokens.tokens.refresh_token == b.tokens.tokens.refresh_token


@pytest.mark.parametrize("with_add", [True, False])
def test_sixteen_threads_make_one_refresh(emu, with_add):
    pair, store = emu.issue_user_tokens(), Store(with_add)
    with user_client(emu, pair, token_store=store) as client:
        barrier, errors = threading.Barrier(16), []

        def work():
            barrier.wait()
            try:
                client.get_message(emu.message_id)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == [] and emu.count("oauth_token") == 1


def test_a_reused_refresh_token_is_refused_with_a_clear_auth_error(emu):
    pair = emu.issue_user_tokens()
    with user_client(emu, pair) as client:
        client.get_message(emu.message_id)
    with user_client(emu, pair) as again:  # no store: it spends the same token again
        with pytest.raises(fm.AuthError) as caught:
            again.get_message(emu.message_id)
    assert caught.value.code == 20073
    assert "already used" in str(caught.value) and "sign in again" in str(caught.value)
    assert pair["refresh_token"] not in str(caught.value)


def test_a_second_process_refused_takes_the_pair_saved_meanwhile(emu):
    """Without a lock across processes (a store without add), the loser of a race is refused
    and takes the winner's pair from the store instead of failing."""
    pair, store = emu.issue_user_tokens(), Store(with_add=False)
    with user_client(emu, pair, token_store=store) as a, user_client(emu, pair) as b:
        b.get_message(emu.message_id)  # spends the given refresh token first, saves nothing
        b.tokens._store = store
        b.tokens._keep(b.tokens.tokens)  # ... then its pair reaches the store
        a.get_message(emu.message_id)  # refused with the spent token; takes b's pair
        assert a.tokens.tokens == b.tokens.tokens


def test_the_refresh_needs_the_apps_credentials(emu):
    with pytest.raises(fm.ConfigError, match="app_id and app_secret"):
        fm.Client(user_refresh_token="ur-x", user_access_token="u-x", base_url=emu.url)
    with pytest.raises(fm.ConfigError, match="feishu and lark"):
        fm.Client("cli", "secret", platform="bosshi", user_refresh_token="ur-x", base_url=emu.url)


def test_from_env_reads_the_refresh_token(emu):
    pair = emu.issue_user_tokens()
    env = {"FEISHU_APP_ID": emu.app_id, "FEISHU_APP_SECRET": emu.app_secret, "FEISHU_BASE_URL": emu.url,
           "FEISHU_USER_REFRESH_TOKEN": pair["refresh_token"]}
    with fm.Client.from_env(env) as client:
        assert isinstance(client.tokens, RefreshedUserToken)
        client.get_message(emu.message_id)
    assert emu.count("oauth_token") == 1


def test_no_secret_shows_in_reprs_logs_plans_or_tracebacks(emu, caplog):
    pair, seen = emu.issue_user_tokens(), []
    caplog.set_level(logging.DEBUG)
    with user_client(emu, pair, on_user_tokens=seen.append) as client:
        client.get_message(emu.message_id)
        shown = [repr(client.tokens), repr(client.tokens.tokens), str(seen[0]), repr(client.tokens.plan()),
                 caplog.text]
    with user_client(emu, pair) as again:
        try:
            again.get_message(emu.message_id)
        except fm.AuthError:
            shown.append(traceback.format_exc())
            shown.append(repr(again.tokens.__dict__))
    secrets = [pair["refresh_token"], pair["access_token"], seen[0].refresh_token, seen[0].access_token,
               emu.app_secret]
    for text in shown:
        for secret in secrets:
            assert secret not in text


def test_store_lock_held_elsewhere_is_waited_for(emu, monkeypatch):
    from feishu_msgres import usertoken

    monkeypatch.setattr(usertoken, "LOCK_TIMEOUT", 0.3)
    pair, store = emu.issue_user_tokens(), Store()
    with user_client(emu, pair, token_store=store) as client:
        store.data[client.tokens.key + ":lock"] = "another process, killed"
        client.get_message(emu.message_id)  # waits LOCK_TIMEOUT, then refreshes without it
    assert emu.count("oauth_token") == 1
