"""The command keeps a user's rotating refresh token in a file, so the next run starts from it."""
import json
import os
import stat
import subprocess
import sys
import threading

import pytest

from feishu_msgres.filestore import FileTokenStore, default_path


def run(args, cwd, env):
    return subprocess.run([sys.executable, "-m", "feishu_msgres"] + args, cwd=str(cwd), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


@pytest.fixture
def user_env(emu, tmp_path):
    pair = emu.issue_user_tokens()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEISHU_")}
    env.update(FEISHU_BASE_URL=emu.url, FEISHU_APP_ID=emu.app_id, FEISHU_APP_SECRET=emu.app_secret,
               FEISHU_USER_REFRESH_TOKEN=pair["refresh_token"], FEISHU_TOKEN_FILE=str(tmp_path / "t" / "tokens.json"))
    return env


def test_run_after_run_with_the_same_first_refresh_token(emu, tmp_path, user_env):
    mid = emu.add_message("text", {"text": "hi"})
    for _ in range(3):  # each run refreshes at least once; the refresh token it was given is spent after the first
        done = run(["get", "--message-id", mid, "--as", "user"], tmp_path, user_env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["message_id"] == mid
        emu.expire_tokens()  # the next run's access token is dead: it must refresh from the file's pair
    path = tmp_path / "t" / "tokens.json"
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(path.parent)).st_mode) == 0o700
    assert user_env["FEISHU_USER_REFRESH_TOKEN"] not in done.stderr


def test_without_the_apps_credentials_it_says_what_is_missing(tmp_path, user_env):
    env = dict(user_env)
    del env["FEISHU_APP_SECRET"]
    done = run(["get", "--message-id", "om_1", "--as", "user"], tmp_path, env)
    assert done.returncode == 1 and "FEISHU_APP_SECRET" in done.stderr and "Traceback" not in done.stderr


def test_the_store_keeps_values_and_add_is_once(tmp_path):
    now = [1000.0]
    store = FileTokenStore(str(tmp_path / "s.json"), clock=lambda: now[0])
    store.set("a", {"token": "x"}, 10)
    assert store.get("a") == {"token": "x"} and store.get("b", 7) == 7
    assert store.add("lock", 1, 30) and not store.add("lock", 2, 30)
    store.delete("lock")
    assert store.add("lock", 3, 30)
    now[0] += 11
    assert store.get("a") is None  # expired
    assert "x" not in repr(store)


def test_processes_sharing_the_file_see_each_others_writes(tmp_path):
    path = str(tmp_path / "shared.json")
    stores = [FileTokenStore(path) for _ in range(8)]
    threads = [threading.Thread(target=lambda s=s, n=n: s.set("k%d" % n, n, 60)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(FileTokenStore(path).get("k%d" % n) for n in range(8)) == list(range(8))  # none lost


def test_the_default_path_follows_the_environment():
    assert default_path({"FEISHU_TOKEN_FILE": "/x/t.json"}) == "/x/t.json"
    assert default_path({"XDG_STATE_HOME": "/s"}) == "/s/feishu-msgres/tokens.json"
