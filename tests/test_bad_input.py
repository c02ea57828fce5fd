"""Bad input is refused before any request, with one clear line (issue 14)."""
import gzip
import io
import subprocess
import sys

import pytest
import responses

import feishu_msgres as fm
from helpers import BASE, add_token


@pytest.fixture
def nothing_sent(mock):
    yield mock
    assert mock.calls == [] or all("tenant_access_token" in c.request.url for c in mock.calls)


def _download(client, dest):
    return client.download_resource("om_1", "file_1", "file", dest)


def test_a_closed_file_is_refused(client, nothing_sent):
    f = io.BytesIO()
    f.close()
    with pytest.raises(fm.ConfigError, match="closed"):
        _download(client, f)


def test_a_text_mode_file_is_refused(client, nothing_sent, tmp_path):
    with open(str(tmp_path / "t.txt"), "w") as f:
        with pytest.raises(fm.ConfigError, match="binary mode"):
            _download(client, f)
    with pytest.raises(fm.ConfigError, match="binary mode"):
        _download(client, io.StringIO())


def test_a_read_only_file_is_refused(client, nothing_sent, tmp_path):
    (tmp_path / "r.bin").write_bytes(b"x")
    with open(str(tmp_path / "r.bin"), "rb") as f:
        with pytest.raises(fm.ConfigError, match="not open for writing"):
            _download(client, f)


def test_a_gzip_file_is_accepted(emu, tmp_path):
    mid = emu.add_message("file", {"file_key": "file_g"})
    emu.add_resource(mid, "file_g", b"zipped")
    with emu.client() as client, gzip.open(str(tmp_path / "g.gz"), "wb") as out:
        client.download_resource(mid, "file_g", "file", out)
    assert gzip.open(str(tmp_path / "g.gz")).read() == b"zipped"


@pytest.mark.parametrize("dest", ["", "   "])
def test_an_empty_path_is_refused(client, nothing_sent, dest):
    with pytest.raises(fm.ConfigError, match="empty path"):
        _download(client, dest)


@pytest.mark.parametrize("timeout", [-1, 0, (5, -1), (1, 2, 3), "10", True])
def test_a_timeout_that_is_no_time_is_refused(timeout):
    with pytest.raises(fm.ConfigError, match="timeout"):
        fm.Client("cli_x", "s", timeout=timeout)
    client = fm.Client("cli_x", "s")
    with pytest.raises(fm.ConfigError, match="timeout"):
        client.timeout = timeout


@pytest.mark.parametrize("url", ["https://open.feishu.cn?x=1", "https://open.feishu.cn/#frag",
                                 "https://user:pw@open.feishu.cn"])
def test_a_base_url_with_a_query_fragment_or_password_is_refused(url):
    with pytest.raises(fm.ConfigError, match="base_url"):
        fm.Client("cli_x", "s", base_url=url)


def test_negative_resume_tries_are_refused():
    with pytest.raises(fm.ConfigError, match="resume_tries"):
        fm.Client("cli_x", "s", resume_tries=-1)


def test_max_rate_zero_is_refused_before_anything(client, nothing_sent, tmp_path):
    with pytest.raises(fm.ConfigError, match="max_rate"):
        client.export_chat("oc_1", str(tmp_path / "e"), max_rate=0)
    assert not (tmp_path / "e").exists()


@pytest.mark.parametrize("items", [["junk"], [None, 3], "not a list", [{"no_id": 1}]])
def test_junk_items_are_a_typed_error(mock, client, items):
    add_token(mock)
    mock.add(responses.GET, BASE + "/open-apis/im/v1/messages/om_1", json={"code": 0, "data": {"items": items}})
    with pytest.raises(fm.APIError, match="holds no message"):
        client.get_message("om_1")


def test_the_commands_exists_message_names_overwrite(emu, tmp_path):
    mid = emu.add_message("file", {"file_key": "file_x"})
    emu.add_resource(mid, "file_x", b"new")
    (tmp_path / "out.bin").write_bytes(b"old")
    env = {"FEISHU_BASE_URL": emu.url, "FEISHU_APP_ID": emu.app_id, "FEISHU_APP_SECRET": emu.app_secret,
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "feishu_msgres", "download", "--message-id", mid, "--file-key",
                           "file_x", "--type", "file", "--output", "out.bin"], cwd=str(tmp_path), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert done.returncode == 1 and "--overwrite" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
