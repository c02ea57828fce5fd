"""Ranged, resumable downloads against the emulator over real sockets.

Every case ends with the exact bytes (sha256) or a typed error that leaves no partial file
and an existing file untouched.
"""
import hashlib
import io
import os
import random
import re

import attr
import pytest

import feishu_msgres as fm
from feishu_msgres.transport import make_retry

PROBE = 128 * 1024
RANGE = 1024 * 1024
DATA = random.Random(6266).getrandbits(8 * (3 * RANGE + 12345)).to_bytes(3 * RANGE + 12345, "little")
DIGEST = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def served(emu):
    mid = emu.add_message("file", {"file_key": "file_big", "file_name": "big.bin"})
    emu.add_resource(mid, "file_big", DATA, filename="big.bin")
    return mid


@pytest.fixture
def ranged_client(emu):
    with emu.client(retries=make_retry(3, backoff_factor=0), timeout=(2, 2), range_size=RANGE) as c:
        c.download_settings = attr.evolve(c.download_settings, resume_backoff=0)
        yield c


def fetch(client, mid, tmp_path, **kwargs):
    target = tmp_path / "out.bin"
    result = client.download_resource(mid, "file_big", "file", target, checksum=True, **kwargs)
    assert result.sha256 == DIGEST
    assert hashlib.sha256(target.read_bytes()).hexdigest() == DIGEST
    assert result.size == len(DATA)
    assert os.listdir(str(tmp_path)) == ["out.bin"]
    return result


def ranges(emu):
    return [r.headers.get("Range") for r in emu.requests if r.kind == "resource"]


def assert_untouched(tmp_path, target):
    assert target.read_bytes() == b"precious"
    assert os.listdir(str(tmp_path)) == [target.name]


def planned(sizes):
    """The Range headers for a probe then ranges of these sizes (the last one cut at the end)."""
    expected, offset = ["bytes=0-%d" % (PROBE - 1)], PROBE
    for size in sizes:
        end = min(offset + size, len(DATA))
        expected.append("bytes=%d-%d" % (offset, end - 1))
        offset = end
    assert offset == len(DATA)
    return expected


def test_a_probe_then_fixed_ranges_as_the_spec_asks(emu, ranged_client, served, tmp_path):
    # seed 002: a 128 KiB probe, then ranges of one size (8 MiB by default; 1 MiB here)
    fetch(ranged_client, served, tmp_path)
    assert ranges(emu) == planned([RANGE, RANGE, RANGE])  # the last one is cut at the end
    assert all(r.headers.get("Accept-Encoding") == "identity" for r in emu.requests if r.kind == "resource")


def test_ranges_double_only_when_asked_to(emu, served, tmp_path):
    with emu.client(range_size=RANGE, max_range_size=2 * RANGE) as client:
        fetch(client, served, tmp_path)
    assert ranges(emu) == planned([RANGE, 2 * RANGE])


def test_the_default_ranges_are_the_specs_8_mib(emu, tmp_path):
    # ranges used to double up to 64 MiB: a 100 MB file was asked for in answers of up to 44 MiB
    size = 20 * 1024 * 1024
    mid = emu.add_message("file", {"file_key": "file_20m"})
    emu.add_resource(mid, "file_20m", bytes(size))
    with emu.client() as client:
        client.download_resource(mid, "file_20m", "file", tmp_path / "x")
    asked = ranges(emu)
    mib8 = 8 * 1024 * 1024
    assert asked == ["bytes=0-%d" % (PROBE - 1), "bytes=%d-%d" % (PROBE, PROBE + mib8 - 1),
                     "bytes=%d-%d" % (PROBE + mib8, PROBE + 2 * mib8 - 1), "bytes=%d-%d" % (PROBE + 2 * mib8, size - 1)]


def test_a_break_sends_the_range_size_back_to_the_start(emu, served, tmp_path):
    small = RANGE // 4
    with emu.client(range_size=small, max_range_size=4 * small) as client:
        emu.drop_after("file_big", small, after=2)  # the 2*small range breaks halfway
        fetch(client, served, tmp_path)
    spans = [tuple(int(x) for x in r.split("=")[1].split("-")) for r in ranges(emu)]
    sizes = [end - start + 1 for start, end in spans]
    assert sizes[:3] == [PROBE, small, 2 * small]
    assert spans[3][1] == spans[2][1]  # the broken range resumed to its own end
    assert sizes[4:6] == [small, 2 * small]  # then the size started over


@pytest.mark.parametrize(
    "nbytes, after, range_start",
    [
        (1000, 0, 0),  # in the probe
        (RANGE // 2, 1, PROBE),  # mid-range
        (0, 1, PROBE),  # at a range boundary: headers, then nothing
        (RANGE - 1, 1, PROBE),  # one byte short of the boundary
        (RANGE, 1, PROBE),  # the range is whole: nothing to resume
    ],
)
@pytest.mark.parametrize("reset", [False, True])
def test_a_dropped_body_resumes_from_the_last_byte(emu, ranged_client, served, tmp_path, nbytes, after, range_start,
                                                   reset):
    emu.drop_after("file_big", nbytes, after=after, reset=reset)
    fetch(ranged_client, served, tmp_path)
    asked = ranges(emu)
    resumed = int(asked[after + 1].split("=")[1].split("-")[0])
    # From the last byte that reached us: urllib3 2.x drops a short read's last partial chunk
    # (under chunk_size bytes), 1.26 hands over every byte, and after an RST the kernel
    # may discard what it had buffered.
    assert range_start <= resumed <= range_start + nbytes
    if not reset:
        assert resumed > range_start + nbytes - ranged_client.download_settings.chunk_size


def test_progress_stays_monotonic_across_resumes(emu, ranged_client, served, tmp_path):
    emu.drop_after("file_big", 5000, after=1)
    emu.ignore_range("file_big", times=1, after=2)  # the resume gets 200: bytes are skipped
    seen = []
    fetch(ranged_client, served, tmp_path, progress=lambda done, total: seen.append((done, total)))
    dones = [d for d, _ in seen]
    assert dones == sorted(dones)
    assert seen[-1] == (len(DATA), len(DATA))
    assert {t for _, t in seen} == {len(DATA)}


def test_a_server_that_ignores_range_is_read_whole(emu, ranged_client, served, tmp_path):
    emu.ignore_range("file_big")
    fetch(ranged_client, served, tmp_path)
    assert len(ranges(emu)) == 1


def test_a_whole_stream_that_breaks_resumes_even_if_range_stays_ignored(emu, ranged_client, served, tmp_path):
    emu.ignore_range("file_big")
    emu.drop_after("file_big", 2 * RANGE + 17)
    fetch(ranged_client, served, tmp_path)
    assert len(ranges(emu)) == 2


@pytest.mark.parametrize("status, body", [(416, b""), (400, b"<html>Bad Request</html>"), (400, b'{"msg": "no code"}')])
def test_a_probe_refused_falls_back_to_one_plain_get(emu, ranged_client, served, tmp_path, status, body):
    emu.fail("resource", status, body=body)
    fetch(ranged_client, served, tmp_path)
    assert ranges(emu) == ["bytes=0-%d" % (PROBE - 1), None]


def test_an_empty_file(emu, ranged_client, tmp_path):
    mid = emu.add_message("file", {"file_key": "file_empty"})
    emu.add_resource(mid, "file_empty", b"")
    result = ranged_client.download_resource(mid, "file_empty", "file", tmp_path / "empty", checksum=True)
    assert result.size == 0 and (tmp_path / "empty").read_bytes() == b""
    assert result.sha256 == hashlib.sha256(b"").hexdigest()


def test_a_small_file_takes_one_request(emu, ranged_client, tmp_path):
    mid = emu.add_message("file", {"file_key": "file_small"})
    emu.add_resource(mid, "file_small", b"small")
    assert ranged_client.download_resource(mid, "file_small", "file", tmp_path / "s").size == 5
    assert ranges(emu) == ["bytes=0-%d" % (PROBE - 1)]


@pytest.mark.parametrize("after", [0, 2])
def test_a_wrong_content_range_is_an_integrity_error(emu, ranged_client, served, tmp_path, after):
    target = tmp_path / "keep.bin"
    target.write_bytes(b"precious")
    emu.wrong_content_range("file_big", after=after)
    with pytest.raises(fm.IntegrityError, match="Content-Range"):
        ranged_client.download_resource(served, "file_big", "file", target, overwrite=True)
    assert_untouched(tmp_path, target)


def test_a_burst_of_5xx_is_ridden_out(emu, ranged_client, served, tmp_path):
    emu.fail("resource", 503, times=3, after=2)  # within one request's retries
    fetch(ranged_client, served, tmp_path)


def test_a_5xx_that_persists_mid_download_fails_with_the_servers_words(emu, ranged_client, served, tmp_path):
    # it used to end with "HTTP 500" only, after rounds of resumes on top of the retries
    emu.fail("resource", 500, times=None, after=2, code=1500, msg="internal error")
    with pytest.raises(fm.APIError) as caught:
        ranged_client.download_resource(served, "file_big", "file", tmp_path / "out.bin")
    err = caught.value
    assert (err.code, err.msg, err.http_status) == (1500, "internal error", 500) and err.log_id
    assert err.path.endswith("/resources/file_big")
    assert emu.count("resource") == 2 + 4  # the probe, a range, then one request and its 3 retries
    assert os.listdir(str(tmp_path)) == []


def test_429_between_ranges_waits_and_goes_on(emu, ranged_client, served, tmp_path):
    emu.rate_limit("resource", times=2, reset=0.05, after=1)
    fetch(ranged_client, served, tmp_path)


def test_a_token_that_expires_between_ranges_is_replaced(emu, ranged_client, served, tmp_path):
    expired = []

    def expire_once(done, total):
        if done > PROBE and not expired:
            emu.expire_tokens()
            expired.append(done)

    fetch(ranged_client, served, tmp_path, progress=expire_once)
    assert emu.count("token") == 2


def test_a_business_error_mid_download_is_raised_at_once(emu, ranged_client, served, tmp_path):
    target = tmp_path / "keep.bin"
    target.write_bytes(b"precious")
    emu.fail("resource", 400, code=230110, msg="deleted", after=2)
    with pytest.raises(fm.NotFoundError):
        ranged_client.download_resource(served, "file_big", "file", target, overwrite=True)
    assert_untouched(tmp_path, target)
    assert emu.count("resource") == 3  # never retried


def test_a_slow_trickle_inside_the_read_timeout_completes(emu, ranged_client, served, tmp_path):
    emu.trickle("file_big", delay=0.01, block=16 * 1024, times=1)
    fetch(ranged_client, served, tmp_path)


def test_a_trickle_slower_than_the_read_timeout_resumes(emu, served, tmp_path):
    with emu.client(timeout=(2, 0.3), range_size=RANGE) as client:
        client.download_settings = attr.evolve(client.download_settings, resume_backoff=0)
        emu.trickle("file_big", delay=1.0, block=4096, times=1, after=1)
        fetch(client, served, tmp_path)


def test_a_trickle_that_never_ends_gives_up_cleanly(emu, served, tmp_path):
    target = tmp_path / "keep.bin"
    target.write_bytes(b"precious")
    with emu.client(timeout=(2, 0.2), resume_tries=2) as client:
        client.download_settings = attr.evolve(client.download_settings, resume_backoff=0)
        emu.trickle("file_big", delay=1.0, block=1024, times=None)
        with pytest.raises(fm.TransportError, match="broke off 3 times in a row"):
            client.download_resource(served, "file_big", "file", target, overwrite=True)
    assert_untouched(tmp_path, target)


def test_an_image_resumes_too(emu, ranged_client, tmp_path):
    mid = emu.add_message("image", {"image_key": "img_big"})
    emu.add_resource(mid, "img_big", DATA, type="image", content_type="image/png")
    boundary = 2 * ranged_client.download_settings.chunk_size  # the same on urllib3 1.26 and 2
    emu.drop_after("img_big", boundary)
    result = ranged_client.download_resource(mid, "img_big", "image", tmp_path, checksum=True)
    assert result.sha256 == DIGEST
    assert result.path == str(tmp_path / "img_big.png")
    assert ranges(emu) == [None, "bytes=%d-%d" % (boundary, len(DATA) - 1)]


def test_the_connection_refused_mid_download_is_resumed(emu, ranged_client, served, tmp_path):
    emu.disconnect("resource", times=6, after=2)  # more than the transport's own retries
    fetch(ranged_client, served, tmp_path)


def test_resume_budget_exhausted_leaves_nothing(emu, served, tmp_path):
    target = tmp_path / "keep.bin"
    target.write_bytes(b"precious")
    with emu.client(retries=0, resume_tries=1, range_size=RANGE) as client:
        emu.drop_after("file_big", 10, times=None, after=1)
        with pytest.raises(fm.TransportError) as info:
            client.download_resource(served, "file_big", "file", target, overwrite=True)
    # 2.x hands over nothing of a short read, 1.26 every byte: 0 or 10 bytes per try
    assert re.search(r"broke off 2 times in a row at byte 1310(72|82|92) of %d" % len(DATA), str(info.value))
    assert_untouched(tmp_path, target)


def test_download_settings_are_validated():
    with pytest.raises(fm.ConfigError):
        fm.Client("a", "b", range_size=0)


def test_a_server_without_ranges_resumes_with_plain_gets(emu, ranged_client, served, tmp_path):
    emu.refuse_range("file_big")  # 416 to every Range request
    emu.drop_after("file_big", 2 * ranged_client.download_settings.chunk_size, after=1)  # the plain GET breaks
    fetch(ranged_client, served, tmp_path)
    assert ranges(emu) == ["bytes=0-%d" % (PROBE - 1), None, None]


def test_a_server_that_answers_shorter_ranges_is_followed_without_penalty(emu, served, tmp_path):
    with emu.client(range_size=RANGE, resume_tries=1) as client:
        emu.cap_ranges(64 * 1024, "file_big")
        fetch(client, served, tmp_path)
    asked = ranges(emu)
    starts = [int(r.split("=")[1].split("-")[0]) for r in asked[:-1]]
    # each request asks from where the last answer ended, and none is asked twice: no breaks;
    # answers that stay that short end, after 8, in one plain GET of the rest
    assert starts == list(range(0, 9 * 64 * 1024, 64 * 1024)) and asked[-1] is None


def test_a_refused_probe_content_range_closes_its_response(emu, ranged_client, served, tmp_path, monkeypatch):
    from feishu_msgres.connection import Connection

    opened = []
    original = Connection.send

    def recording(self, *args, **kwargs):
        response = original(self, *args, **kwargs)
        opened.append(response)
        return response

    monkeypatch.setattr(Connection, "send", recording)
    emu.wrong_content_range("file_big")
    with pytest.raises(fm.IntegrityError):
        ranged_client.download_resource(served, "file_big", "file", tmp_path / "x")
    assert opened and all(r.raw.closed for r in opened)


def test_urllib3_errors_from_a_body_are_resumed_like_any_break(emu, ranged_client, served, tmp_path, monkeypatch):
    # requests < 2.28 lets some urllib3 errors (an SSLError mid-body) out of iter_content, and
    # urllib3 2's read1 raises its own errors
    import urllib3

    import feishu_msgres.transfer as transfer

    original = transfer.iter_body
    failed = []

    def flaky(response, size, *buffer):
        for n, chunk in enumerate(original(response, size, *buffer)):
            if n == 1 and not failed:
                failed.append(True)
                raise urllib3.exceptions.SSLError("bad record mac")
            yield chunk

    monkeypatch.setattr(transfer, "iter_body", flaky)
    ranged_client.download_settings = attr.evolve(ranged_client.download_settings, chunk_size=RANGE // 4)
    fetch(ranged_client, served, tmp_path)
    assert failed


def test_very_long_server_names_still_download(emu, ranged_client, tmp_path):
    name = "季" * 84 + ".pdf"  # 256 bytes of UTF-8: shortened to 255, its temp name too
    images = [{"tag": "img", "image_key": "img_a"}, {"tag": "img", "image_key": "img_b"}]
    mid = emu.add_message("post", {"content": [images]})
    emu.add_resource(mid, "img_a", b"a", type="image", filename=name)
    emu.add_resource(mid, "img_b", b"b", type="image", filename=name)
    outcomes = ranged_client.download_all(mid, tmp_path)
    assert [o.error for o in outcomes] == [None, None]
    names = sorted(os.listdir(str(tmp_path)))
    assert len(names) == 2 and all(len(n.encode("utf-8")) <= 255 and n.endswith(".pdf") for n in names)
    assert any(n.endswith(" (2).pdf") for n in names)


def test_a_server_that_refuses_long_ranges_gets_shorter_ones(emu, served, tmp_path):
    # a gateway that refuses answers over 300 KiB with 234037: ranges halve (for good) and the
    # download goes on; a refusal at the floor is the answer
    emu.refuse_larger_than(300 * 1024, "file_big")
    with emu.client(range_size=RANGE, min_range_size=PROBE) as client:
        fetch(client, served, tmp_path)
    sizes = [int(b) - int(a) + 1 for a, b in (r.split("=")[1].split("-") for r in ranges(emu))]
    assert sizes[:4] == [PROBE, RANGE, RANGE // 2, RANGE // 4]  # two refusals, then 256 KiB ranges
    assert set(sizes[4:-1]) == {RANGE // 4}
    emu.clear_faults()
    emu.refuse_larger_than(PROBE - 1, "file_big")
    with emu.client(range_size=RANGE) as client, pytest.raises(fm.TooLargeError):
        client.download_resource(served, "file_big", "file", tmp_path / "again.bin")
    assert os.listdir(str(tmp_path)) == ["out.bin"]


def test_bytes_received_before_a_break_are_kept(emu, tmp_path):
    # a read that broke midway used to lose the whole 1 MiB chunk it was gathering, so a link
    # that drops every 900 kB never finished a 3 MB file
    data = random.Random(7).getrandbits(8 * 3 * 1024 * 1024).to_bytes(3 * 1024 * 1024, "little")
    mid = emu.add_message("file", {"file_key": "file_3m"})
    emu.add_resource(mid, "file_3m", data)
    emu.drop_after("file_3m", 900 * 1024, times=None)
    with emu.client(retries=make_retry(3, backoff_factor=0)) as client:
        client.download_settings = attr.evolve(client.download_settings, resume_backoff=0)
        result = client.download_resource(mid, "file_3m", "file", tmp_path / "x", checksum=True)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    starts = [int(r.split("=")[1].split("-")[0]) for r in ranges(emu)]
    assert starts[:2] == [0, PROBE] and len(starts) <= 6
    for before, start in zip(starts[1:], starts[2:]):  # each resumed at its last byte (urllib3
        assert 0 <= before + 900 * 1024 - start < 64 * 1024  # without read1: within the read in progress)


def test_answers_that_stay_tiny_end_in_one_plain_get(emu, served, tmp_path):
    # valid 206s of 4 KiB each used to take thousands of requests (2,930 for 3 MB)
    emu.cap_ranges(4096, "file_big")
    with emu.client(range_size=RANGE) as client:
        fetch(client, served, tmp_path)
    asked = ranges(emu)
    assert len(asked) == 1 + 1 + 8 and asked[-1] is None  # the probe, a range, 7 more tries, one plain GET


def _replace_midway(emu, mid, new, etag):
    """A progress callback that re-uploads the resource once the download is under way."""
    done_once = []

    def progress(done, total):
        if done > PROBE and not done_once:
            emu.replace_resource(mid, "file_v", new, etag=etag)
            done_once.append(done)

    return progress


@pytest.fixture
def versioned(emu):
    mid = emu.add_message("file", {"file_key": "file_v"})
    emu.add_resource(mid, "file_v", DATA, etag='"v1"')
    return mid


def test_a_resource_replaced_midway_is_downloaded_again_never_mixed(emu, versioned, tmp_path):
    # same length, new ETag: the file used to be committed mixed from both versions
    new = bytes(reversed(DATA))
    with emu.client(range_size=RANGE) as client:
        result = client.download_resource(versioned, "file_v", "file", tmp_path / "v.bin", checksum=True,
                                          progress=_replace_midway(emu, versioned, new, '"v2"'))
    assert (tmp_path / "v.bin").read_bytes() == new and result.sha256 == hashlib.sha256(new).hexdigest()
    later = [r for r in emu.requests if r.kind == "resource"][1:]
    assert later[0].headers.get("If-Range") == '"v1"'
    assert os.listdir(str(tmp_path)) == ["v.bin"]


def test_a_resource_replaced_midway_into_a_stream_is_an_error(emu, versioned, tmp_path):
    new = bytes(reversed(DATA))
    with emu.client(range_size=RANGE) as client:
        with pytest.raises(fm.ResourceChangedError):
            with client.open_resource(versioned, "file_v", "file",
                                      progress=_replace_midway(emu, versioned, new, '"v2"')) as stream:
                for _ in stream:
                    pass
        rewindable = io.BytesIO(b"head:")
        rewindable.seek(5)
        client.download_resource(versioned, "file_v", "file", rewindable,
                                 progress=_replace_midway(emu, versioned, DATA, '"v3"'))
        assert rewindable.getvalue() == b"head:" + DATA  # rewound to where it began, written again

        class Pipe:  # a file object that cannot be rewound
            def write(self, data):
                return len(data)

        with pytest.raises(fm.ResourceChangedError):
            client.download_resource(versioned, "file_v", "file", Pipe(),
                                     progress=_replace_midway(emu, versioned, new, '"v4"'))


def test_starting_over_into_a_folder_names_the_file_after_the_new_version(emu, versioned, tmp_path):
    done_once = []

    def progress(done, total):
        if done > PROBE and not done_once:
            emu.replace_resource(versioned, "file_v", b"%PDF-1.4 new", etag='"v2"', content_type="application/pdf",
                                 filename="new.pdf")
            done_once.append(done)

    with emu.client(range_size=RANGE) as client:
        result = client.download_resource(versioned, "file_v", "file", tmp_path, progress=progress)
    assert os.listdir(str(tmp_path)) == ["new.pdf"] and result.path == str(tmp_path / "new.pdf")
    assert (result.filename, result.content_type, result.size) == ("new.pdf", "application/pdf", 12)


def test_a_new_version_without_a_validator_is_not_taken_for_the_old_one(emu, versioned, tmp_path):
    # a 200 to If-Range without the ETag used to be read as "Range ignored": old head, new tail
    new = bytes(reversed(DATA))
    done_once = []

    def progress(done, total):
        if done > PROBE and not done_once:
            emu.replace_resource(versioned, "file_v", new)  # no ETag at all now
            done_once.append(done)

    with emu.client(range_size=RANGE) as client:
        client.download_resource(versioned, "file_v", "file", tmp_path / "v.bin", progress=progress)
    assert (tmp_path / "v.bin").read_bytes() == new


def test_a_download_into_a_file_reads_into_one_buffer_and_reuses_its_connection(emu, served, tmp_path, monkeypatch):
    # every range of a path download is read into one buffer, and the connection goes back to
    # the pool after each: one connection for the token, the probe and every range
    import urllib3

    connects = []
    real_connect = urllib3.connection.HTTPConnection.connect
    monkeypatch.setattr(urllib3.connection.HTTPConnection, "connect",
                        lambda self: connects.append(1) or real_connect(self))
    with emu.client(range_size=RANGE) as client:
        fetch(client, served, tmp_path)
        assert len(ranges(emu)) == 4 and len(connects) == 1
        data = client.read_resource(served, "file_big", "file", max_bytes=len(DATA))  # a stream: bytes of its own
    assert bytes(data) == DATA and len(connects) == 1


def test_a_file_object_that_may_keep_what_it_is_given_gets_bytes_of_its_own(emu, served, tmp_path):
    class Keeper:  # keeps each piece it is written, as some user objects do
        def __init__(self):
            self.pieces = []

        def write(self, data):
            self.pieces.append(data)

    keeper = Keeper()
    with emu.client(range_size=RANGE) as client:
        client.download_resource(served, "file_big", "file", keeper)
        with open(str(tmp_path / "f.bin"), "wb") as real:  # a file of the standard library copies
            client.download_resource(served, "file_big", "file", real)
    assert b"".join(bytes(p) for p in keeper.pieces) == DATA
    assert (tmp_path / "f.bin").read_bytes() == DATA
