"""``feishu-msgres emulator`` and ``python -m feishu_msgres.testing``: an emulator that
serves until stopped, started as a newcomer would, and the other commands run against it."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading

import pytest

from feishu_msgres.testing.datafile import DataError, load
from helpers import sigint_as_usual, unmeasured

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="signals as on POSIX")


class Served:
    """An emulator process, its banner read up to the ids to try."""

    def __init__(self, args, cwd):
        self.proc = subprocess.Popen([sys.executable, "-m"] + list(args), cwd=str(cwd), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, universal_newlines=True, env=unmeasured(clean_env()),
                                     preexec_fn=sigint_as_usual)
        watchdog = threading.Timer(60, self.proc.kill)  # a banner that never comes fails, not hangs
        watchdog.start()
        self.banner = []
        try:
            for line in self.proc.stdout:
                self.banner.append(line.rstrip("\n"))
                if line.startswith("  feishu-msgres export"):
                    break
        finally:
            watchdog.cancel()
        text = "\n".join(self.banner)
        found = re.search(r"export FEISHU_BASE_URL=(\S+)", text)
        assert found, text + self.proc.stderr.read()
        self.env = clean_env(FEISHU_BASE_URL=found.group(1),
                             FEISHU_APP_ID=re.search(r"export FEISHU_APP_ID=(\S+)", text).group(1),
                             FEISHU_APP_SECRET=re.search(r"export FEISHU_APP_SECRET=(\S+)", text).group(1))

    def tried(self, command):
        """The ids of the banner's example of ``command``, as argv."""
        line = next(line for line in self.banner if line.startswith("  feishu-msgres " + command + " "))
        return line.split("#")[0].split()[1:]

    def stop(self, signum):
        self.proc.send_signal(signum)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEISHU_", "DINGTALK_"))}
    env.update(extra)
    return env


def run(args, cwd, env):
    return subprocess.run([sys.executable, "-m", "feishu_msgres"] + list(args), cwd=str(cwd), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)


def test_the_emulator_command_serves_every_command_until_sigterm(tmp_path):
    served = Served(["feishu_msgres", "emulator", "--port", "0"], tmp_path)
    try:
        env = served.env
        assert env["FEISHU_BASE_URL"].startswith("http://127.0.0.1:")
        assert any("unset FEISHU_USER_ACCESS_TOKEN" in line for line in served.banner)
        done = run(["chats"], tmp_path, env)
        assert done.returncode == 0, done.stderr
        (chat,) = [json.loads(line) for line in done.stdout.splitlines()]
        assert chat["chat_id"] == "oc_realistic" and chat["name"]
        done = run(served.tried("messages"), tmp_path, env)
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.splitlines()) == 5 and json.loads(done.stderr)["has_more"] is True
        done = run(served.tried("get"), tmp_path, env)
        assert done.returncode == 0 and "└── " in done.stdout, done.stderr
        downloads = [line.split()[1:] for line in served.banner if line.startswith("  feishu-msgres download ")]
        assert len(downloads) == 2  # a file and an image
        for argv in downloads:
            done = run(argv, tmp_path, env)
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["size_bytes"] > 0
        done = run(served.tried("export"), tmp_path, env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.splitlines()[-1])["downloaded"] > 10
    finally:
        status, out, err = served.stop(signal.SIGTERM)
    assert status == 0 and err == ""  # stopped as it is meant to end: quietly


def test_python_m_testing_serves_a_data_file_until_ctrl_c(tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "报告.pdf").write_bytes(b"%PDF-1.7 data file")
    data = {
        "chats": [{"chat_id": "oc_team", "name": "Team", "owner_id": "ou_boss"},
                  {"chat_id": "oc_lounge", "name": "Lounge", "public": True, "member": False}],
        "messages": [
            {"msg_type": "text", "content": {"text": "hello"}, "sender_id": "ou_boss"},
            {"msg_type": "file", "message_id": "om_file",
             "resources": [{"file_key": "file_1", "path": "files/报告.pdf"}]},
            {"msg_type": "merge_forward", "message_id": "om_fwd", "content": "Merged and Forwarded Message",
             "children": [{"msg_type": "text", "content": {"text": "forwarded"}},
                          {"msg_type": "image", "resources": [{"file_key": "img_1", "text": "not really a png"}]}]},
        ],
    }
    (tmp_path / "chats.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    served = Served(["feishu_msgres.testing", "--data", "chats.json"], tmp_path)
    try:
        assert served.tried("messages") == ["messages", "--chat-id", "oc_team", "--limit", "5"]
        assert served.tried("get")[:3] == ["get", "--message-id", "om_fwd"]
        done = run(["messages", "--chat-id", "oc_team", "--sort", "asc"], tmp_path, served.env)
        assert [json.loads(line)["text"] for line in done.stdout.splitlines()] == \
            ["hello", "[File: 报告.pdf]", "[Merged and forwarded messages]"]
        done = run(["download", "--message-id", "om_file", "--file-key", "file_1", "--type", "file"], tmp_path,
                   served.env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["content_type"] == "application/pdf"
        assert (tmp_path / "报告.pdf").read_bytes() == b"%PDF-1.7 data file"
        done = run(["get", "--message-id", "om_fwd", "--tree"], tmp_path, served.env)
        assert "forwarded" in done.stdout and "resource img_1 (image)" in done.stdout
        done = run(["chats", "--query", "lounge"], tmp_path, served.env)
        assert [json.loads(line)["chat_id"] for line in done.stdout.splitlines()] == ["oc_lounge"]
    finally:
        status, out, err = served.stop(signal.SIGINT)
    assert status == 0 and err == ""


@pytest.mark.parametrize("content, problem", [
    ("{not json", "is not JSON"),
    ('{"messages": [{"msg_type": "file", "resources": [{"file_key": "f", "path": "missing.pdf"}]}]}',
     "messages[0].resources[0]: cannot read"),
    ('{"messages": [{"msg_typo": "text"}]}', "unknown key(s) msg_typo"),
    ('{"messages": [{"msg_type": "text"}]}', "messages[0]: content is required"),
    ('{"chats": [{"name": "no id"}]}', "chats[0]: chat_id is required"),
    ("{}", "holds no chats"),
])
def test_a_bad_data_file_is_a_usage_error_of_one_line(tmp_path, content, problem):
    (tmp_path / "bad.json").write_text(content, encoding="utf-8")
    done = run(["emulator", "--data", "bad.json"], tmp_path, clean_env())
    assert done.returncode == 2 and done.stdout == ""
    assert problem in done.stderr.strip().splitlines()[-1]
    with pytest.raises(DataError, match=re.escape(problem)):
        load(str(tmp_path / "bad.json"))


def test_a_missing_data_file_and_a_taken_port(tmp_path):
    done = run(["emulator", "--data", "nowhere.json"], tmp_path, clean_env())
    assert done.returncode == 2 and "cannot read" in done.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = run(["emulator", "--port", str(port)], tmp_path, clean_env())
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert "cannot listen on port %d" % port in line
    assert run(["emulator", "--port", "70000"], tmp_path, clean_env()).returncode == 2


def test_a_data_file_implies_the_content_of_file_and_image_messages(tmp_path):
    (tmp_path / "cat.png").write_bytes(b"\x89PNG")
    (tmp_path / "d.json").write_text(json.dumps({"messages": [
        {"msg_type": "image", "create_time": "2024-06-01T08:00:00Z",
         "resources": [{"file_key": "img_cat", "path": "cat.png"}]},
        {"msg_type": "file", "chat_id": "oc_x", "resources": [{"file_key": "file_n", "text": "notes",
                                                                "filename": "notes.txt"}]}]}), encoding="utf-8")
    data = load(str(tmp_path / "d.json"))
    image, note = data.messages
    assert image["content"] == {"image_key": "img_cat"} and image["chat_id"] == "oc_emulator"
    assert image["create_time"] == 1717228800000 and note["create_time"] == 1717228860000  # a minute on
    assert image["resources"][0]["type"] == "image" and image["resources"][0]["content_type"] == "image/png"
    assert note["content"] == {"file_key": "file_n", "file_name": "notes.txt"}
    assert note["resources"][0]["data"] == b"notes" and note["resources"][0]["type"] == "file"
