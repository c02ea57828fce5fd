"""Reruns that suit cron: --skip-existing, a rerunnable demo (issue 15)."""
import json
import os
import subprocess
import sys

import pytest

import feishu_msgres as fm


@pytest.fixture
def message(emu):
    mid = emu.add_message("post", {"title": "t", "content": [[{"tag": "img", "image_key": "img_a"},
                                                             {"tag": "img", "image_key": "img_b"}]]})
    emu.add_resource(mid, "img_a", b"A" * 300, type="image", content_type="image/png", filename="same.png")
    emu.add_resource(mid, "img_b", b"B" * 200, type="image", content_type="image/png", filename="same.png")
    return mid


def test_download_all_twice_with_skip_existing_fetches_nothing_the_second_time(emu, message, tmp_path):
    with emu.client() as client:
        first = client.download_all(message, tmp_path)
        assert sorted(os.listdir(str(tmp_path))) == ["same (2).png", "same.png"]
        asked = emu.count("resource")
        second = client.download_all(message, tmp_path, skip_existing=True)
    assert [o.result.skipped for o in second] == [True, True] and not any(o.result.skipped for o in first)
    assert [os.path.basename(o.result.path) for o in second] == ["same.png", "same (2).png"]
    assert emu.count("resource") - asked == 2  # one first answer each, then nothing
    assert (tmp_path / "same.png").read_bytes() == b"A" * 300 and (tmp_path / "same (2).png").read_bytes() == b"B" * 200


def test_a_file_of_another_size_is_not_skipped_nor_replaced_without_overwrite(emu, message, tmp_path):
    (tmp_path / "same.png").write_bytes(b"mine")
    with emu.client() as client:
        outcomes = client.download_all(message, tmp_path, skip_existing=True)
    assert isinstance(outcomes[0].error, fm.DestinationExistsError)
    assert (tmp_path / "same.png").read_bytes() == b"mine"


def _run(args, cwd, emu):
    env = dict(os.environ, FEISHU_BASE_URL=emu.url, FEISHU_APP_ID=emu.app_id, FEISHU_APP_SECRET=emu.app_secret)
    return subprocess.run([sys.executable, "-m", "feishu_msgres"] + args, cwd=str(cwd), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def test_the_command_download_all_twice_exits_0_with_skip_existing(emu, message, tmp_path):
    for n in range(2):
        done = _run(["download-all", "--message-id", message, "--output-dir", "out", "--skip-existing"], tmp_path, emu)
        assert done.returncode == 0, done.stderr
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        assert [line.get("skipped", False) for line in lines] == [bool(n), bool(n)]


def test_the_demo_runs_twice_into_one_folder(tmp_path):
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "feishu_msgres", "demo", "--output-dir", "demo"],
                              cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=120)
        assert done.returncode == 0, done.stderr
