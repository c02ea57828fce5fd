"""The real entry point, in a subprocess, against the emulator."""
import hashlib
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time

import pytest

import feishu_msgres
from feishu_msgres.demo import pdf
from helpers import sigint_as_usual, unmeasured

REPORT = pdf("report")
VIDEO = bytes(range(256)) * 12000  # ~3 MB: a probe and ranges


@pytest.fixture
def chat(emu):
    ids = {}
    ids["file"] = emu.add_message("file", {"file_key": "file_r", "file_name": "季度报告.pdf"})
    emu.add_resource(ids["file"], "file_r", REPORT, content_type="application/pdf", filename="季度报告.pdf")
    ids["image"] = emu.add_message("image", {"image_key": "img_k"})
    emu.add_resource(ids["image"], "img_k", b"\x89PNG fake", type="image", content_type="image/png")
    ids["media"] = emu.add_message("media", {"file_key": "file_v", "image_key": "img_c", "file_name": "v.mp4"})
    emu.add_resource(ids["media"], "file_v", VIDEO, content_type="video/mp4", filename="v.mp4")
    emu.add_resource(ids["media"], "img_c", b"cover", type="image", content_type="image/jpeg")
    ids["forward"] = emu.add_message("merge_forward", "Merged and Forwarded Message")
    emu.add_message("image", {"image_key": "img_f"}, upper_message_id=ids["forward"])
    return ids


def environment(emu, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEISHU_", "DINGTALK_"))}
    env.update(FEISHU_BASE_URL=emu.url, FEISHU_APP_ID=emu.app_id, FEISHU_APP_SECRET=emu.app_secret)
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def run(args, cwd, env, **kwargs):
    return subprocess.run([sys.executable, "-m", "feishu_msgres"] + list(args), cwd=str(cwd), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=60, **kwargs)


def lines(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_version_and_help(tmp_path):
    done = run(["--version"], tmp_path, dict(os.environ))
    assert done.returncode == 0 and done.stdout.strip() == "feishu-msgres %s" % feishu_msgres.__version__
    for command in ("demo", "get", "download", "download-all"):
        done = run([command, "--help"], tmp_path, dict(os.environ))
        assert done.returncode == 0 and "examples:" in done.stdout, command


def test_the_console_script_is_installed(tmp_path):
    script = shutil.which("feishu-msgres", path=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    if script is None:
        pytest.fail("feishu-msgres is not on PATH next to %s" % sys.executable)
    done = subprocess.run([script, "--version"], stdout=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert done.returncode == 0 and feishu_msgres.__version__ in done.stdout


def test_usage_errors_exit_2(tmp_path, emu):
    done = run(["download", "--file-key", "k", "--type", "file"], tmp_path, environment(emu))
    assert done.returncode == 2 and "--message-id" in done.stderr
    done = run(["download", "--message-id", "m", "--file-key", "k", "--type", "video"], tmp_path, environment(emu))
    assert done.returncode == 2
    assert emu.count() == 0


def test_demo_runs_offline(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEISHU_")}
    started = time.monotonic()
    done = run(["demo", "--output-dir", "out"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 20
    assert "Files are in out" in done.stdout
    names = sorted(os.listdir(str(tmp_path / "out")))
    assert "季度报告.pdf" in names and "会议录像.mp4" in names and not any(n.endswith(".part") for n in names)


def test_get_prints_the_message_as_json(tmp_path, emu, chat):
    done = run(["get", "--message-id", chat["forward"]], tmp_path, environment(emu))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["msg_type"] == "merge_forward"
    assert data["children"][0]["resources"] == [
        {"message_id": data["children"][0]["message_id"], "file_key": "img_f", "type": "image", "name": None,
         "container_id": data["message_id"]}]  # the resource API may serve it only under the container
    assert data["create_time"].endswith("+00:00")


def test_download_with_the_servers_name(tmp_path, emu, chat):
    done = run(["download", "--message-id", chat["file"], "--file-key", "file_r", "--type", "file"],
               tmp_path, environment(emu))
    assert done.returncode == 0, done.stderr
    (out,) = lines(done.stdout)
    assert out == {"saved_path": "季度报告.pdf", "size_bytes": len(REPORT), "content_type": "application/pdf",
                   "sha256": hashlib.sha256(REPORT).hexdigest()}
    assert (tmp_path / "季度报告.pdf").read_bytes() == REPORT
    assert done.stderr == ""  # no progress bar: stderr is not a terminal


def test_download_output_without_extension_gets_one(tmp_path, emu, chat):
    env = environment(emu)
    done = run(["download", "--message-id", chat["image"], "--file-key", "img_k", "--type", "image",
                "--output", "photos/cat"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert lines(done.stdout)[0]["saved_path"] == os.path.join("photos", "cat.png")
    assert (tmp_path / "photos" / "cat.png").read_bytes() == b"\x89PNG fake"
    done = run(["download", "--message-id", chat["image"], "--file-key", "img_k", "--type", "image",
                "--output", "exact.bin"], tmp_path, env)
    assert lines(done.stdout)[0]["saved_path"] == "exact.bin"
    done = run(["download", "--message-id", chat["media"], "--file-key", "file_v", "--type", "file",
                "--output", "videos/"], tmp_path, env)
    assert lines(done.stdout)[0]["saved_path"] == os.path.join("videos", "v.mp4")
    assert (tmp_path / "videos" / "v.mp4").read_bytes() == VIDEO


@pytest.mark.parametrize("output", ["/tmp/x.png", "../x.png", "a/../../x.png", "a/..", "~/x.png", " "])
def test_unsafe_outputs_are_refused_before_any_request(tmp_path, emu, chat, output):
    done = run(["download", "--message-id", chat["image"], "--file-key", "img_k", "--type", "image",
                "--output", output], tmp_path, environment(emu))
    assert done.returncode == 2
    assert "--output" in done.stderr
    assert emu.count() == 0
    assert os.listdir(str(tmp_path)) == []


def test_an_existing_file_is_kept_unless_overwrite(tmp_path, emu, chat):
    (tmp_path / "keep.png").write_bytes(b"precious")
    args = ["download", "--message-id", chat["image"], "--file-key", "img_k", "--type", "image", "--output", "keep.png"]
    done = run(args, tmp_path, environment(emu))
    assert done.returncode == 1 and "exists" in done.stderr and "overwrite" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert (tmp_path / "keep.png").read_bytes() == b"precious"
    assert run(args + ["--overwrite"], tmp_path, environment(emu)).returncode == 0
    assert (tmp_path / "keep.png").read_bytes() == b"\x89PNG fake"


def test_api_errors_are_one_line_with_code_msg_and_log_id(tmp_path, emu, chat):
    done = run(["download", "--message-id", chat["image"], "--file-key", "img_nope", "--type", "image"],
               tmp_path, environment(emu))
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert "234003" in line and "File not in message." in line and "log_id emu" in line and "HTTP 400" in line
    assert done.stdout == "" and os.listdir(str(tmp_path)) == []


def test_bad_ids_are_refused_before_any_request(tmp_path, emu, chat):
    done = run(["download", "--message-id", "om/../x", "--file-key", "k", "--type", "file"], tmp_path, environment(emu))
    assert done.returncode == 1 and "message_id" in done.stderr
    assert emu.count() == 0


def test_missing_credentials_name_the_variables(tmp_path, emu, chat):
    env = environment(emu, FEISHU_APP_ID=None, FEISHU_APP_SECRET=None)
    done = run(["get", "--message-id", chat["file"]], tmp_path, env)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert "FEISHU_APP_ID" in line and "FEISHU_APP_SECRET" in line and "FEISHU_USER_ACCESS_TOKEN" in line
    done = run(["get", "--message-id", chat["file"], "--as", "user"], tmp_path, environment(emu))
    assert done.returncode == 1 and "FEISHU_USER_ACCESS_TOKEN" in done.stderr
    done = run(["get", "--message-id", chat["file"], "--as", "bot"], tmp_path, env)
    assert done.returncode == 1 and "FEISHU_APP_SECRET" in done.stderr
    assert emu.count() == 0


def test_identity_user_token_first_unless_as_bot(tmp_path, emu, chat):
    env = environment(emu, FEISHU_USER_ACCESS_TOKEN=emu.user_access_token)
    assert run(["get", "--message-id", chat["file"]], tmp_path, env).returncode == 0
    assert emu.count("token") == 0
    assert emu.requests[-1].headers["Authorization"] == "Bearer " + emu.user_access_token
    assert run(["get", "--message-id", chat["file"], "--as", "bot"], tmp_path, env).returncode == 0
    assert emu.count("token") == 1
    assert emu.requests[-1].headers["Authorization"].startswith("Bearer t-")


def test_flags_override_the_environment(tmp_path, emu, chat):
    env = environment(emu, FEISHU_APP_SECRET="wrong", FEISHU_BASE_URL="http://127.0.0.1:9")
    done = run(["get", "--message-id", chat["file"], "--app-secret", emu.app_secret, "--base-url", emu.url],
               tmp_path, env)
    assert done.returncode == 0, done.stderr


def test_dry_run_sends_nothing_and_hides_secrets(tmp_path, emu, chat):
    env = environment(emu, FEISHU_USER_ACCESS_TOKEN=None)
    done = run(["download", "--message-id", chat["media"], "--file-key", "file_v", "--type", "file", "--dry-run",
                "--as", "bot"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert emu.count() == 0 and os.listdir(str(tmp_path)) == []
    (plan,) = lines(done.stdout)
    token, resource = plan["requests"]
    assert token["method"] == "POST" and token["body"] == {"app_id": emu.app_id, "app_secret": "***"}
    assert resource["url"] == "%s/open-apis/im/v1/messages/%s/resources/file_v" % (emu.url, chat["media"])
    assert resource["query"] == {"type": "file"}
    assert resource["headers"]["Authorization"] == "Bearer ***"
    assert resource["headers"]["Range"] == "bytes=0-131071"
    assert emu.app_secret not in done.stdout + done.stderr
    env = environment(emu, FEISHU_USER_ACCESS_TOKEN="u-secret-user-token", FEISHU_BASE_URL=None)
    done = run(["get", "--message-id", "om_1", "--dry-run", "--platform", "lark"], tmp_path, env)
    (plan,) = lines(done.stdout)
    assert [r["url"] for r in plan["requests"]] == ["https://open.larksuite.com/open-apis/im/v1/messages/om_1"]
    assert "u-secret-user-token" not in done.stdout


def test_download_all_reports_each_resource(tmp_path, emu, chat):
    done = run(["download-all", "--message-id", chat["media"], "--output-dir", "all"], tmp_path, environment(emu))
    assert done.returncode == 0, done.stderr
    got = lines(done.stdout)
    assert [(g["file_key"], g["saved_path"]) for g in got] == [
        ("file_v", os.path.join("all", "v.mp4")), ("img_c", os.path.join("all", "img_c.jpg"))]
    assert got[0]["sha256"] == hashlib.sha256(VIDEO).hexdigest()


def test_download_all_refusals_are_per_resource_and_exit_1(tmp_path, emu, chat):
    done = run(["download-all", "--message-id", chat["forward"], "--output-dir", "all"], tmp_path, environment(emu))
    assert done.returncode == 1
    (got,) = lines(done.stdout)
    assert got["file_key"] == "img_f" and got["code"] == 234043 and "Unsupported" in got["error"]
    assert "1 resource(s) failed" in done.stderr


def _interrupt(tmp_path, emu, chat, sig):
    emu.trickle("file_v", delay=0.05, block=8192, times=None)
    env = unmeasured(environment(emu))  # signalled: see helpers.unmeasured
    proc = subprocess.Popen([sys.executable, "-m", "feishu_msgres", "download", "--message-id", chat["media"],
                             "--file-key", "file_v", "--type", "file"], cwd=str(tmp_path), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            preexec_fn=sigint_as_usual)
    deadline = time.monotonic() + 30
    while not any(n.endswith(".part") for n in os.listdir(str(tmp_path))):  # the download is under way
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def test_ctrl_c_leaves_no_partial_file_and_exits_130(tmp_path, emu, chat):
    code, out, err = _interrupt(tmp_path, emu, chat, signal.SIGINT)
    assert code == 130 and "interrupted" in err and out == ""
    assert os.listdir(str(tmp_path)) == []


def test_kill_leaves_no_partial_file_and_exits_143(tmp_path, emu, chat):
    code, out, err = _interrupt(tmp_path, emu, chat, signal.SIGTERM)
    assert code == 143 and "terminated" in err
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_bar_only_on_a_terminal(tmp_path, emu, chat, quiet):
    master, slave = pty.openpty()
    args = [sys.executable, "-m", "feishu_msgres", "download", "--message-id", chat["media"], "--file-key", "file_v",
            "--type", "file"] + (["--quiet"] if quiet else [])
    proc = subprocess.Popen(args, cwd=str(tmp_path), env=environment(emu), stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        seen += data
    proc.wait(timeout=60)
    os.close(master)
    assert proc.returncode == 0
    if quiet:
        assert seen == b""
    else:
        assert b"100%" in seen and b"file_v" in seen


def test_dingtalk_download_command(tmp_path):
    from feishu_msgres.testing.dingtalk import DingTalkEmulator

    with DingTalkEmulator() as ding:
        ding.add_file("code-1", b"%PDF-1.4 dingtalk", content_type="application/pdf")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DINGTALK_")}
        env.update(DINGTALK_APP_KEY=ding.app_key, DINGTALK_APP_SECRET=ding.app_secret,
                   DINGTALK_ROBOT_CODE=ding.robot_code, DINGTALK_BASE_URL=ding.url)
        done = run(["dingtalk-download", "--download-code", "code-1", "--output", "in/"], tmp_path, env)
        assert done.returncode == 0, done.stderr
        (out,) = lines(done.stdout)
        assert out["saved_path"].startswith("in" + os.sep) and out["saved_path"].endswith(".pdf")
        assert out["sha256"] == hashlib.sha256(b"%PDF-1.4 dingtalk").hexdigest()
        done = run(["dingtalk-download", "--download-code", "code-1", "--output", "/abs.pdf"], tmp_path, env)
        assert done.returncode == 2
        done = run(["dingtalk-download", "--download-code", "nope", "--output", "x.pdf"], tmp_path, env)
        assert done.returncode == 1 and "downloadCode" in done.stderr
        env.pop("DINGTALK_APP_SECRET")
        done = run(["dingtalk-download", "--download-code", "code-1", "--output", "y.pdf"], tmp_path, env)
        assert done.returncode == 1 and "DINGTALK_APP_SECRET" in done.stderr


def test_dry_runs_show_the_ids_as_the_real_requests_send_them(tmp_path, emu):
    # get and download used to build their own plans, and they drifted: download showed ids unquoted
    env = environment(emu, FEISHU_USER_ACCESS_TOKEN=None)
    got = run(["get", "--message-id", "om_中文", "--dry-run"], tmp_path, env)
    down = run(["download", "--message-id", "om_中文", "--file-key", "img_键", "--type", "image", "--dry-run"],
               tmp_path, env)
    assert got.returncode == down.returncode == 0, got.stderr + down.stderr
    (get_plan,), (download_plan,) = lines(got.stdout), lines(down.stdout)
    quoted = "/open-apis/im/v1/messages/om_%E4%B8%AD%E6%96%87"
    assert get_plan["requests"][-1]["url"] == emu.url + quoted
    assert download_plan["requests"][-1]["url"] == emu.url + quoted + "/resources/img_%E9%94%AE"
    assert "Range" not in download_plan["requests"][-1]["headers"]  # an image: one plain GET
    bad = run(["download", "--message-id", "om_1/../x", "--file-key", "k", "--type", "file", "--dry-run"],
              tmp_path, env)
    assert bad.returncode == 1 and "message_id" in bad.stderr


def test_a_hang_up_leaves_no_partial_file_and_exits_129(tmp_path, emu, chat):
    # SIGHUP (an ssh session that drops) used to kill the command on the spot, its .part left
    code, out, err = _interrupt(tmp_path, emu, chat, signal.SIGHUP)
    assert code == 129 and "hung up" in err
    assert os.listdir(str(tmp_path)) == []


def test_a_later_download_removes_what_a_killed_one_left(tmp_path, emu, chat):
    # SIGKILL leaves the .part; no later run removed it
    emu.trickle("file_v", delay=0.05, block=8192, times=1)
    proc = subprocess.Popen([sys.executable, "-m", "feishu_msgres", "download", "--message-id", chat["media"],
                             "--file-key", "file_v", "--type", "file"], cwd=str(tmp_path), env=environment(emu),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not any(n.endswith(".part") for n in os.listdir(str(tmp_path))):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.kill()
    proc.communicate(timeout=30)
    (left,) = os.listdir(str(tmp_path))
    assert left.startswith(".v.mp4.") and left.endswith(".part")
    done = run(["download", "--message-id", chat["media"], "--file-key", "file_v", "--type", "file"], tmp_path,
               environment(emu))
    assert done.returncode == 0, done.stderr
    assert os.listdir(str(tmp_path)) == ["v.mp4"]


def test_an_ignored_hang_up_stays_ignored(tmp_path, emu, chat):
    # nohup feishu-msgres ...: the run must outlive the terminal that started it
    def ignore_hangups():
        sigint_as_usual()
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    emu.trickle("file_v", delay=0.03, block=32768, times=None)  # about 3 s: the hang-up comes midway
    proc = subprocess.Popen([sys.executable, "-m", "feishu_msgres", "download", "--message-id", chat["media"],
                             "--file-key", "file_v", "--type", "file"], cwd=str(tmp_path),
                            env=unmeasured(environment(emu)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, preexec_fn=ignore_hangups)
    deadline = time.monotonic() + 30
    while not any(n.endswith(".part") for n in os.listdir(str(tmp_path))):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert os.listdir(str(tmp_path)) == ["v.mp4"]
