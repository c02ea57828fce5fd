import datetime
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import feishu_msgres as fm
from feishu_msgres.ratelimit import RateLimiter
from feishu_msgres.transport import make_retry
from helpers import sigint_as_usual, unmeasured

T0 = 1700000000  # epoch seconds of the first message


def add_file(emu, n, name=None, size=1000, chat="oc_emulator", **kwargs):
    key = "file_%d" % n
    mid = emu.add_message("file", {"file_key": key, "file_name": name or "f%d.txt" % n}, chat_id=chat,
                          create_time=(T0 + n) * 1000, **kwargs)
    emu.add_resource(mid, key, bytes([n % 256]) * size, filename=name or "f%d.txt" % n)
    return mid


def manifest(folder):
    with open(os.path.join(str(folder), "manifest.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def saved(folder):
    found = []
    for root, _dirs, names in os.walk(os.path.join(str(folder), "files")):
        found += [os.path.join(root, n) for n in names]
    return sorted(found)


# -- iter_messages ------------------------------------------------------------------------------


def test_iter_messages_follows_pages(emu, emu_client):
    for n in range(10):
        emu.add_message("text", {"text": str(n)}, create_time=(T0 + n) * 1000)
    emu.add_message("text", {"text": "other chat"}, chat_id="oc_other")
    assert [m.text for m in emu_client.iter_messages("oc_emulator", page_size=3)] == [str(n) for n in range(10)]
    lists = [r for r in emu.requests if r.kind == "list"]
    assert len(lists) == 4
    assert lists[0].query == {"container_id_type": "chat", "container_id": "oc_emulator",
                              "sort_type": "ByCreateTimeAsc", "page_size": "3"}
    assert lists[1].query["page_token"] == "pt_3"


def test_iter_messages_time_window_and_order(emu, emu_client):
    for n in range(10):
        emu.add_message("text", {"text": str(n)}, create_time=(T0 + n) * 1000)
    start = datetime.datetime.fromtimestamp(T0 + 2, tz=datetime.timezone.utc)
    got = emu_client.iter_messages("oc_emulator", start_time=start, end_time=T0 + 5, sort="desc")
    assert [m.text for m in got] == ["5", "4", "3", "2"]
    assert emu.requests[-1].query["start_time"] == str(T0 + 2)


def test_iter_messages_in_a_thread_and_recalled_ones(emu, emu_client):
    emu.add_message("text", {"text": "in thread"}, thread_id="omt_1")
    emu.add_message("image", "", thread_id="omt_1", deleted=True)
    got = list(emu_client.iter_messages("omt_1", container_id_type="thread"))
    assert [m.deleted for m in got] == [False, True]
    assert got[1].resources == ()


@pytest.mark.parametrize("kwargs", [
    {"container_id_type": "thread", "start_time": 5}, {"sort": "newest"}, {"page_size": 51},
    {"container_id_type": "user"}, {"start_time": "yesterday"}])
def test_iter_messages_refuses_bad_arguments_before_any_request(emu, emu_client, kwargs):
    with pytest.raises(fm.ConfigError):
        list(emu_client.iter_messages("oc_emulator", **kwargs))
    assert emu.count() == 0


# -- the rate limiter -------------------------------------------------------------------------------


class FakeTime:
    def __init__(self):
        self.now = 100.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_rate_limiter_per_second_and_minute():
    t = FakeTime()
    limiter = RateLimiter(5, 12, clock=t.clock, sleep=t.sleep)
    times = []
    for _ in range(13):
        limiter.acquire()
        times.append(t.now)
    assert times[:5] == [100.0] * 5
    assert times[5] > 101.0  # the sixth waits for the first second to pass
    assert times[12] > 160.0  # the thirteenth waits for the first minute
    for i in range(len(times)):
        assert sum(1 for x in times if times[i] <= x < times[i] + 1) <= 5


def test_rate_limiter_pause_holds_everyone():
    t = FakeTime()
    limiter = RateLimiter(50, None, clock=t.clock, sleep=t.sleep)
    limiter.pause(3)
    limiter.acquire()
    assert t.now >= 103.0
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_the_rate_limit_holds_across_threads_over_sockets(emu, tmp_path):
    for n in range(30):
        add_file(emu, n, size=10)
    with emu.client(rate_limit=(10, None)) as client:
        summary = client.export_chat("oc_emulator", tmp_path, workers=8)
    assert summary.downloaded == 30
    times = sorted(r.time for r in emu.requests if r.kind in ("list", "message", "resource"))
    worst = max(sum(1 for x in times if t <= x < t + 1.0) for t in times)
    assert worst <= 10, worst


def test_429_pauses_the_whole_client(emu, tmp_path):
    add_file(emu, 1)
    with emu.client(retries=0) as client:
        emu.rate_limit("resource", times=1, reset=0.3)
        started = time.monotonic()
        with pytest.raises(fm.RateLimitError):
            client.download_resource(emu.add_message("text", {}), "nope", "file", tmp_path)  # noqa - any request
        client.get_message(add_file(emu, 2))
        assert time.monotonic() - started >= 0.3


# -- export_chat ------------------------------------------------------------------------------------


def test_export_lays_out_files_manifest_and_messages(emu, emu_client, tmp_path):
    for n in range(3):
        add_file(emu, n, name="same.txt")
    post = emu.add_message("post", {"content": [[{"tag": "img", "image_key": "img_a"},
                                                 {"tag": "img", "image_key": "img_b"}]]},
                           create_time=(T0 + 10) * 1000)
    emu.add_resource(post, "img_a", b"a", type="image", filename="pic.png")
    emu.add_resource(post, "img_b", b"b", type="image", filename="pic.png")
    emu.add_message("text", {"text": "no attachment"}, create_time=(T0 + 11) * 1000)
    emu.add_message("image", "", deleted=True, create_time=(T0 + 12) * 1000)
    summary = emu_client.export_chat("oc_emulator", tmp_path, workers=3)
    assert (summary.messages, summary.downloaded, summary.skipped, summary.failed) == (6, 5, 0, 0)
    names = [os.path.relpath(p, str(tmp_path)) for p in saved(tmp_path)]
    assert len(names) == 5 and len(set(names)) == 5
    post_folder = [n for n in names if post in n]
    assert sorted(os.path.basename(n) for n in post_folder) == ["pic (2).png", "pic.png"]
    assert all(n.startswith(os.path.join("files", "2023-11-14_")) for n in names)
    lines = manifest(tmp_path)
    assert len(lines) == 5
    for line in lines:
        data = open(os.path.join(str(tmp_path), line["saved_path"]), "rb").read()
        assert hashlib.sha256(data).hexdigest() == line["sha256"] and len(data) == line["size_bytes"]
    with open(os.path.join(str(tmp_path), "messages.jsonl"), encoding="utf-8") as f:
        messages = [json.loads(line) for line in f]
    assert len(messages) == 6 and messages[-1]["deleted"] is True


def test_failures_are_recorded_and_a_second_run_completes(emu, emu_client, tmp_path):
    for n in range(4):
        add_file(emu, n)
    top = emu.add_message("merge_forward", "Merged and Forwarded Message", create_time=(T0 + 9) * 1000)
    emu.add_message("image", {"image_key": "img_fw"}, upper_message_id=top, create_time=(T0 + 9) * 1000)
    emu.fail("resource", 500, times=4, key="file_2")  # outlasts the transport's retries: a rerun may fix it
    first = emu_client.export_chat("oc_emulator", tmp_path)
    assert (first.downloaded, first.failed, first.refused) == (3, 1, 1)
    errors = {line["file_key"]: (line["code"], line.get("permanent")) for line in manifest(tmp_path)
              if line.get("error")}
    assert errors == {"file_2": (None, None), "img_fw": (234043, True)}  # 234043: refused for good
    asked = emu.count("resource")
    second = emu_client.export_chat("oc_emulator", tmp_path)
    assert (second.messages, second.downloaded, second.skipped, second.failed, second.refused) == (0, 1, 3, 0, 1)
    assert len(saved(tmp_path)) == 4
    assert emu.count("resource") - asked == 1  # file_2 only: the refused image is not asked again
    before = len(emu.requests)
    third = emu_client.export_chat("oc_emulator", tmp_path, retry_failed=True)
    assert (third.downloaded, third.failed, third.refused) == (0, 0, 1)
    assert [r for r in emu.requests[before:] if r.kind == "resource" and "img_fw" in r.path]  # asked again


def test_the_command_exits_0_when_only_refusals_for_good_remain(emu, tmp_path):
    top = emu.add_message("merge_forward", "Merged and Forwarded Message", create_time=T0 * 1000)
    emu.add_message("image", {"image_key": "img_fw"}, upper_message_id=top, create_time=T0 * 1000)
    env = dict(os.environ, FEISHU_BASE_URL=emu.url, FEISHU_APP_ID=emu.app_id, FEISHU_APP_SECRET=emu.app_secret)
    for _ in range(2):  # cron, run after run
        done = subprocess.run([sys.executable, "-m", "feishu_msgres", "export", "--chat-id", "oc_emulator",
                               "--output-dir", "e"], env=env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["refused"] == 1 and "refused for good" in done.stderr


def test_a_second_run_lists_only_new_messages(emu, emu_client, tmp_path):
    for n in range(3):
        add_file(emu, n)
    emu_client.export_chat("oc_emulator", tmp_path)
    add_file(emu, 7)
    before = emu.count("resource")
    second = emu_client.export_chat("oc_emulator", tmp_path)
    assert (second.messages, second.downloaded, second.skipped) == (1, 1, 3)
    last_list = [r for r in emu.requests if r.kind == "list"][-1]
    assert last_list.query["start_time"] == str(T0 + 2)
    assert emu.count("resource") - before == 1


def test_a_lost_file_is_fetched_again(emu, emu_client, tmp_path):
    add_file(emu, 1)
    emu_client.export_chat("oc_emulator", tmp_path)
    (path,) = saved(tmp_path)
    with open(path, "wb") as f:
        f.write(b"trunc")  # not the size the manifest says
    assert emu_client.export_chat("oc_emulator", tmp_path).downloaded == 1
    assert open(path, "rb").read() == bytes([1]) * 1000


def test_another_chat_in_the_same_folder_is_refused(emu, emu_client, tmp_path):
    add_file(emu, 1)
    emu_client.export_chat("oc_emulator", tmp_path)
    with pytest.raises(fm.ConfigError, match="another folder"):
        emu_client.export_chat("oc_other", tmp_path)


def _export_process(emu, folder, extra=()):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEISHU_")}
    env.update(FEISHU_BASE_URL=emu.url, FEISHU_APP_ID=emu.app_id, FEISHU_APP_SECRET=emu.app_secret)
    return subprocess.Popen([sys.executable, "-m", "feishu_msgres", "export", "--chat-id", "oc_emulator",
                             "--output-dir", "."] + list(extra), env=unmeasured(env), cwd=str(folder),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            preexec_fn=sigint_as_usual)


def _wait_for_part(folder, proc):
    deadline = time.monotonic() + 30
    while True:
        parts = [n for root, _d, names in os.walk(str(folder)) for n in names if n.endswith(".part")]
        if parts:
            return
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGKILL, -9)])
def test_an_interrupted_export_leaves_nothing_taken_as_complete(emu, tmp_path, sig, code):
    for n in range(3):
        add_file(emu, n, size=2000)
    add_file(emu, 5, size=400000)
    emu.trickle("file_5", delay=0.05, block=4096, times=1)
    proc = _export_process(emu, tmp_path, ["--workers", "1"])
    _wait_for_part(tmp_path, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    if sig == signal.SIGINT:
        assert not [p for p in saved(tmp_path) if p.endswith(".part")]
    assert "file_5" not in {line["file_key"] for line in manifest(tmp_path)}
    done = _export_process(emu, tmp_path)
    out, err = done.communicate(timeout=60)
    assert done.returncode == 0, err
    summary = json.loads(out)
    assert summary["failed"] == 0 and summary["downloaded"] >= 1
    files = saved(tmp_path)
    assert len(files) == 4 and not any(p.endswith(".part") for p in files)
    big = [p for p in files if "f5.txt" in p][0]
    assert open(big, "rb").read() == bytes([5]) * 400000


def test_export_command_exits_1_when_something_failed(emu, tmp_path):
    add_file(emu, 1)
    emu.fail("resource", 400, code=234038, msg="restricted", times=None)
    proc = _export_process(emu, tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert json.loads(out)["failed"] == 1
    assert "manifest.jsonl" in err


# -- found in review: each of these failed before its fix ----------------------------------------


def _worst_second(emu):
    times = sorted(r.time for r in emu.requests if r.kind in ("list", "message", "resource"))
    return max(sum(1 for x in times if t <= x < t + 1.0) for t in times)


def test_retries_and_token_refetches_stay_inside_the_rate_limit(emu, tmp_path):
    for n in range(40):
        add_file(emu, n, size=10)
    emu.fail("resource", 503, times=25)  # urllib3 retries them: each retry takes a slot too
    with emu.client(rate_limit=(10, None), retries=make_retry(30, backoff_factor=0)) as client:
        client.get_message(add_file(emu, 99))
        emu.expire_tokens()  # every worker's next request meets a refetch
        summary = client.export_chat("oc_emulator", tmp_path, workers=12)
    assert summary.downloaded == 41
    # the limiter counts departures in 1.05 s windows; the emulator stamps arrivals, and on a
    # loaded machine one can arrive more than 50 ms late and share a second with the next ten
    assert _worst_second(emu) <= 10 + 1


def test_max_rate_applies_to_the_export_only(emu, tmp_path):
    for n in range(12):
        add_file(emu, n, size=10)
    seen = []
    with emu.client() as client:
        before = client.rate_limiter
        # a client shared with other threads keeps its own limit, during the export too
        client.export_chat("oc_emulator", tmp_path, workers=6, max_rate=4,
                           progress=lambda counts: seen.append(client.rate_limiter is before))
    assert seen and all(seen)
    assert _worst_second(emu) <= 4


def test_names_in_while_workers_record(tmp_path):
    import threading

    from feishu_msgres.manifest import Manifest, ManifestLine

    manifest = Manifest(str(tmp_path))
    errors = []

    def writer(n):
        for i in range(500):
            manifest.record(ManifestLine("om_%d" % n, "k%d" % i, "file", saved_path="files/f%d/n%d" % (n, i),
                                         size_bytes=1))

    def reader():
        try:
            for _ in range(2000):
                manifest.names_in("files/f0")
        except RuntimeError as exc:  # "dictionary changed size during iteration"
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    manifest.close()
    assert errors == []
    assert len(Manifest(str(tmp_path)).last) == 2000


def test_a_line_cut_short_by_a_kill_does_not_swallow_the_next(emu, emu_client, tmp_path):
    add_file(emu, 1)
    emu_client.export_chat("oc_emulator", tmp_path)
    for name in ("manifest.jsonl", "messages.jsonl"):
        with open(os.path.join(str(tmp_path), name), "a", encoding="utf-8") as f:
            f.write('{"message_id": "om_cut", "file_')  # the kill came mid-line
    add_file(emu, 2)
    add_file(emu, 3)  # newer: the next run lists from here, so message 2 must be remembered
    emu.fail("resource", 503, times=4, key="file_2")
    second = emu_client.export_chat("oc_emulator", tmp_path)
    assert (second.messages, second.failed) == (2, 1)
    third = emu_client.export_chat("oc_emulator", tmp_path)
    assert (third.downloaded, third.failed, third.skipped) == (1, 0, 2)  # the failure was remembered


def test_forwarded_children_unread_are_recorded_and_read_next_time(emu, emu_client, tmp_path):
    top = emu.add_message("merge_forward", "Merged and Forwarded Message", create_time=(T0 + 1) * 1000)
    emu.add_message("image", {"image_key": "img_fw"}, upper_message_id=top, create_time=(T0 + 1) * 1000)
    emu.fail("message", 503, times=4)  # the lookup outlasts its retries
    first = emu_client.export_chat("oc_emulator", tmp_path)
    assert first.failed == 1
    assert [(line["type"], line["code"]) for line in manifest(tmp_path)] == [("children", None)]
    second = emu_client.export_chat("oc_emulator", tmp_path)
    assert (second.failed, second.refused) == (0, 1)  # now the child is known, and Feishu refuses it (234043)
    assert manifest(tmp_path)[-1]["file_key"] == "img_fw" and manifest(tmp_path)[-1]["code"] == 234043


def test_message_folders_use_slashes_everywhere():
    from feishu_msgres.export import _message_folder

    message = fm.Message.from_dict({"message_id": "om_1", "create_time": "2024-03-10T12:49:33+00:00"})
    assert _message_folder(message) == \
        "files/2024-03-10_124933_om_1"


def test_an_export_stops_quickly_even_while_waiting_out_a_throttle(emu, tmp_path):
    for n in range(3):
        add_file(emu, n)
    emu.rate_limit("resource", times=100, reset=20)
    proc = _export_process(emu, tmp_path)
    deadline = time.monotonic() + 20
    while emu.count("resource") == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert time.monotonic() - started < 5


def test_export_command_refuses_zero_workers(emu, tmp_path):
    proc = _export_process(emu, tmp_path, ["--workers", "0"])
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--workers" in err


# -- the export's gate: its max_rate and its stop govern every request, retries included -----------


def test_max_rate_governs_the_transports_retries(emu, tmp_path):
    for n in range(6):
        add_file(emu, n, size=10)
        emu.fail("resource", 503, times=2, key="file_%d" % n)  # each resource: two retries by urllib3
    # No backoff: retries that the export's gate did not govern would follow their 503 at once.
    with emu.client(retries=make_retry(3, backoff_factor=0)) as client:
        summary = client.export_chat("oc_emulator", tmp_path, workers=4, max_rate=4)
    assert (summary.downloaded, summary.failed) == (6, 0)
    assert emu.count("resource") == 18  # the retries did happen, in the transport
    # The limiter counts a request when it leaves, in windows of 1.05 s; the emulator stamps it
    # when its handler thread starts. The 0.05 s margin absorbs the usual delay between the two;
    # on a loaded machine (xdist, subprocess tests alongside) one request of a window may arrive
    # later than that and land among the next window's four: hence one more. Ungoverned, the
    # retries came three to a slot (12 in the first second).
    assert _worst_second(emu) <= 4 + 1


def test_stopping_an_export_ends_its_retry_waits_at_once(emu, tmp_path):
    import threading

    for n in range(3):
        add_file(emu, n, size=10)
    emu.fail("resource", 503, times=None, headers={"Retry-After": "30"})  # every retry waits 30 s
    main = threading.current_thread()

    class Interrupted(Exception):
        pass

    def progress(counts):  # the third message listed (in the calling thread): stop
        if threading.current_thread() is main and counts.messages == 3:
            deadline = time.monotonic() + 10
            while emu.count("resource") == 0:  # the worker's first attempt got its 503 ...
                assert time.monotonic() < deadline
                time.sleep(0.01)
            time.sleep(0.2)  # ... and the worker waits out its Retry-After
            raised.append(time.monotonic())
            raise Interrupted()

    raised = []
    with emu.client(retries=make_retry(3, backoff_factor=0)) as client:
        with pytest.raises(Interrupted):
            client.export_chat("oc_emulator", tmp_path, workers=1, progress=progress)
        assert time.monotonic() - raised[0] < 3  # not the 30 s of the wait
    assert emu.count("resource") == 1  # nothing sent after the stop
    assert manifest(tmp_path) == [] and saved(tmp_path) == []


def test_export_does_not_import_the_client():
    import ast

    import feishu_msgres.export
    import feishu_msgres.manifest

    for module in (feishu_msgres.export, feishu_msgres.manifest):
        tree = ast.parse(open(module.__file__, encoding="utf-8").read())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not {"client", "feishu_msgres.client"} & imported, module


# -- the files on disk keep their format: a folder of the earlier version resumes -------------------

# What the version before Message.from_dict and ManifestLine wrote for the export of
# _old_chat (its faults included): messages.jsonl, manifest.jsonl, export.json.
_SENDER = ('"sender": {"id": "ou_emulator_sender", "id_type": "open_id", "sender_type": "user", '
           '"tenant_key": "tk_emulator"}')
_HEAD = ('{"message_id": "%s", "msg_type": "%s", "chat_id": "oc_emulator", "root_id": null, "parent_id": null, '
         '"thread_id": null, "upper_message_id": null, "create_time": "%s", "update_time": "%s", "deleted": false, '
         '"updated": false, ' + _SENDER + ', ')
_GATEWAY_503 = ("no API code: HTTP 503 Service Unavailable with a body that is not the API's JSON (text/html): "
                "'<html><body><h1>503</h1>emulated gateway page</body></html>' (HTTP 503, log_id emu00000008)")
OLD_MESSAGES = [
    _HEAD % ("om_1", "file", "2023-11-14T22:13:21+00:00", "2023-11-14T22:13:21+00:00")
    + '"mentions": [], "content": {"file_key": "file_1", "file_name": "a.txt"}, '
      '"resources": [{"message_id": "om_1", "file_key": "file_1", "type": "file", "name": "a.txt"}], "children": []}',
    _HEAD % ("om_2", "file", "2023-11-14T22:13:22+00:00", "2023-11-14T22:13:22+00:00")
    + '"mentions": [], "content": {"file_key": "file_2", "file_name": "b.txt"}, '
      '"resources": [{"message_id": "om_2", "file_key": "file_2", "type": "file", "name": "b.txt"}], "children": []}',
    _HEAD % ("om_3", "merge_forward", "2023-11-14T22:13:23+00:00", "2023-11-14T22:13:23+00:00")
    + '"mentions": [], "content": {}, "resources": [], "children": [], "children_error": "%s"}' % _GATEWAY_503,
    _HEAD % ("om_4", "text", "2023-11-14T22:13:24.250000+00:00", "2023-11-14T22:13:24.250000+00:00")
    + '"mentions": [{"key": "@_user_1", "id": "ou_tom", "id_type": "open_id", "name": "Tom", "tenant_key": "tk"}], '
      '"content": {"text": "hi @Tom"}, "resources": [], "children": []}',
]
OLD_MANIFEST = [
    '{"message_id": "om_1", "file_key": "file_1", "type": "file", "saved_path": "files/2023-11-14_221321_om_1/a.txt", '
    '"size_bytes": 10, "content_type": "application/octet-stream", '
    '"sha256": "d2d02ea74de2c9fab1d802db969c18d409a8663a9697977bb1c98ccdd9de4372", '
    '"at": "2026-11-23T10:29:04.365359+00:00"}',
    '{"message_id": "om_2", "file_key": "file_2", "type": "file", "error": "code 234037: Downloaded file size exceeds '
    'limit. (HTTP 400, log_id emu00000005). The API serves resources up to 100 MB only", "code": 234037, '
    '"log_id": "emu00000005", "at": "2026-11-23T10:29:04.368328+00:00"}',
    '{"message_id": "om_3", "file_key": "", "type": "children", "error": "%s", "code": null, '
    '"log_id": "emu00000008", "at": "2026-11-23T10:29:04.369047+00:00"}' % _GATEWAY_503,
]
OLD_STATE = {"newest_create_ms": 1700000004250, "chat_id": "oc_emulator",
             "window": {"start_time": None, "end_time": None}}


def _old_chat(emu, faults=False):
    for n, name in ((1, "a.txt"), (2, "b.txt")):
        emu.add_message("file", {"file_key": "file_%d" % n, "file_name": name}, message_id="om_%d" % n,
                        create_time=(T0 + n) * 1000)
        emu.add_resource("om_%d" % n, "file_%d" % n, str(n).encode() * 10, filename=name)
    emu.add_message("merge_forward", "Merged and Forwarded Message", message_id="om_3", create_time=(T0 + 3) * 1000)
    emu.add_message("image", {"image_key": "img_3"}, message_id="om_3a", upper_message_id="om_3",
                    create_time=(T0 + 3) * 1000)
    emu.add_message("text", {"text": "hi @Tom"}, message_id="om_4", create_time=(T0 + 4) * 1000 + 250,
                    mentions=[{"key": "@_user_1", "id": "ou_tom", "id_type": "open_id", "name": "Tom",
                               "tenant_key": "tk"}])
    if faults:
        emu.fail("resource", 400, code=234037, msg="Downloaded file size exceeds limit.", key="file_2")
        emu.fail("message", 503, times=4)


def _masked(line):
    """A line with what is not its format masked: the time of an attempt, log ids, and the
    errors' wording (which the errors module owns)."""
    import re

    return re.sub(r'"(at|error|children_error|log_id)": "(?:[^"\\]|\\.)*"', r'"\1": "#"', line)


def test_the_files_keep_the_earlier_format(emu, emu_client, tmp_path):
    _old_chat(emu, faults=True)
    emu_client.export_chat("oc_emulator", tmp_path, workers=1)
    with open(os.path.join(str(tmp_path), "messages.jsonl"), encoding="utf-8") as f:
        assert [_masked(line) for line in f.read().splitlines()] == [_masked(line) for line in OLD_MESSAGES]
    with open(os.path.join(str(tmp_path), "manifest.jsonl"), encoding="utf-8") as f:
        # the one addition: a refusal for good says so ("permanent"), which earlier readers ignore
        expected = [line.replace('"log_id": "emu00000005", ', '"log_id": "emu00000005", "permanent": true, ')
                    for line in OLD_MANIFEST]
        assert sorted(_masked(line) for line in f.read().splitlines()) == sorted(map(_masked, expected))
    with open(os.path.join(str(tmp_path), "export.json"), encoding="utf-8") as f:
        assert f.read() == json.dumps(OLD_STATE, indent=2)


def test_a_folder_of_the_earlier_format_resumes(emu, emu_client, tmp_path):
    _old_chat(emu)
    folder = tmp_path / "files" / "2023-11-14_221321_om_1"
    folder.mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"1" * 10)
    for name, lines in (("messages.jsonl", OLD_MESSAGES), ("manifest.jsonl", OLD_MANIFEST)):
        (tmp_path / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    (tmp_path / "export.json").write_text(json.dumps(OLD_STATE, indent=2), encoding="utf-8")
    second = emu_client.export_chat("oc_emulator", tmp_path)
    # file_1 complete; file_2 failed last time (an earlier line, without "permanent": tried
    # again), now fetched; om_3's children read at last, and Feishu refuses its image for good
    assert (second.messages, second.downloaded, second.skipped, second.failed, second.refused) == (0, 1, 1, 0, 1)
    assert [r for r in emu.requests if r.kind == "list"][-1].query["start_time"] == str(T0 + 4)
    new = manifest(tmp_path)[len(OLD_MANIFEST):]
    by_key = {line["file_key"]: line for line in new}
    assert list(by_key["file_2"]) == list(json.loads(OLD_MANIFEST[0]))  # a saved file's keys, in order
    assert list(by_key["img_3"]) == ["message_id", "file_key", "type", "error", "code", "log_id", "permanent",
                                     "at"]  # a failure's, "permanent" added
    assert by_key["img_3"]["code"] == 234043
    with open(os.path.join(str(tmp_path), "messages.jsonl"), encoding="utf-8") as f:
        om_3 = json.loads(f.read().splitlines()[-1])
    assert "children_error" not in om_3 and [c["message_id"] for c in om_3["children"]] == ["om_3a"]
    messages_before = emu.count("message")
    third = emu_client.export_chat("oc_emulator", tmp_path)
    assert (third.downloaded, third.skipped, third.failed, third.refused) == (0, 2, 0, 1)
    assert emu.count("message") == messages_before  # the children are known now: not read again


def test_manifest_lines_read_back_as_written():
    from feishu_msgres.manifest import ManifestLine

    for text in OLD_MANIFEST:
        line = ManifestLine.from_json(text)
        assert line is not None and line.to_json() == text
    assert ManifestLine.from_json(OLD_MANIFEST[0]).saved
    assert not ManifestLine.from_json(OLD_MANIFEST[1]).saved
    for broken in ('{"message_id": "om_cut", "file_', '[1]', '{"file_key": "k", "type": "file"}'):
        assert ManifestLine.from_json(broken) is None
    odd = ManifestLine.from_json('{"message_id": "m", "file_key": "k", "type": "file", "size_bytes": "10", "new": 1}')
    assert odd == ManifestLine("m", "k", "file")
