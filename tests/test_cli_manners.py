"""The command as a newcomer and cron meet it: windows, paths, pipes, messages (issue 15)."""
import datetime
import json
import os
import subprocess
import sys

import pytest

from feishu_msgres.cli.parser import build_parser, parse_end_time, parse_time

T0 = 1704067200  # 2024-01-01T00:00:00Z


def run(args, cwd, emu=None, **kwargs):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEISHU_")}
    if emu is not None:
        env.update(FEISHU_BASE_URL=emu.url, FEISHU_APP_ID=emu.app_id, FEISHU_APP_SECRET=emu.app_secret)
    return subprocess.run([sys.executable, "-m", "feishu_msgres"] + args, cwd=str(cwd), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60, **kwargs)


def test_milliseconds_are_read_as_milliseconds():
    assert parse_time(str(T0 * 1000)) == T0 and parse_time(str(T0)) == T0


def test_a_date_alone_ends_at_the_last_second_of_that_day():
    assert parse_end_time("2024-01-31") == datetime.datetime(2024, 1, 31, 23, 59, 59)
    assert parse_time("2024-01-31") == datetime.datetime(2024, 1, 31)
    assert parse_end_time("2024-01-31T08:00:00+08:00").hour == 8  # a time given is kept


def test_the_named_end_day_is_in_the_window(emu, tmp_path):
    noon = int(datetime.datetime(2024, 1, 31, 12, 0).timestamp())  # local time, as the date is read
    mid = emu.add_message("file", {"file_key": "file_n"}, create_time=noon * 1000)
    emu.add_resource(mid, "file_n", b"noon")
    done = run(["export", "--chat-id", "oc_emulator", "--output-dir", "e", "--start-time", "2024-01-31",
                "--end-time", "2024-01-31"], tmp_path, emu)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["downloaded"] == 1  # was 0: the end was that day's midnight


def test_an_empty_window_is_refused_with_the_subcommands_usage(tmp_path):
    done = run(["export", "--chat-id", "oc_1", "--output-dir", "e", "--start-time", "2024-02-01",
                "--end-time", "2024-01-01"], tmp_path)
    assert done.returncode == 2 and "usage: feishu-msgres export" in done.stderr and "window is empty" in done.stderr
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize("command", [["export", "--chat-id", "oc_1"], ["download-all", "--message-id", "om_1"],
                                     ["demo"]])
@pytest.mark.parametrize("folder, why", [("/tmp/x", "relative"), ("../x", ".."), (" x ", "space")])
def test_output_dir_follows_the_rule_of_output(tmp_path, command, folder, why):
    done = run(command + ["--output-dir", folder], tmp_path)
    assert done.returncode == 2 and why in done.stderr and "--output-dir" in done.stderr
    assert "usage: feishu-msgres %s" % command[0] in done.stderr


def test_a_reader_that_goes_away_ends_the_command_quietly(emu, tmp_path):
    mids = [emu.add_message("text", {"text": "x" * 2000}) for _ in range(3)]
    proc = subprocess.Popen("%s -m feishu_msgres get --message-id %s | head -c 10 >/dev/null; "
                            "exit ${PIPESTATUS[0]}" % (sys.executable, mids[0]), shell=True, executable="/bin/bash",
                            cwd=str(tmp_path), stderr=subprocess.PIPE, universal_newlines=True,
                            env=dict(os.environ, FEISHU_BASE_URL=emu.url, FEISHU_APP_ID=emu.app_id,
                                     FEISHU_APP_SECRET=emu.app_secret))
    _, err = proc.communicate(timeout=60)
    assert "Broken pipe" not in err and "Traceback" not in err and "Errno" not in err
    assert proc.returncode in (0, 141)


def test_a_file_where_the_folder_must_be_is_said_plainly(emu, tmp_path):
    mid = emu.add_message("file", {"file_key": "file_a"})
    emu.add_resource(mid, "file_a", b"a")
    (tmp_path / "afile").write_bytes(b"in the way")
    done = run(["download", "--message-id", mid, "--file-key", "file_a", "--type", "file", "--output", "afile/"],
               tmp_path, emu)
    assert done.returncode == 1 and "Errno" not in done.stderr and "a file of that name" in done.stderr


def test_debug_logs_each_request_and_no_secret(emu, tmp_path):
    mid = emu.add_message("text", {"text": "hi"})
    for args in (["-v", "get", "--message-id", mid], ["get", "--message-id", mid, "--debug"]):
        done = run(args, tmp_path, emu)
        assert done.returncode == 0, done.stderr
        assert "/open-apis/im/v1/messages/%s -> 200" % mid in done.stderr
        assert emu.app_secret not in done.stderr and "t-emulator" not in done.stderr


def test_the_parser_knows_debug_on_both_sides():
    args = build_parser().parse_args(["-v", "get", "--message-id", "om_1"])
    assert args.debug
