import hashlib
import io
import os
import pathlib

import pytest
import responses

import feishu_msgres as fm
from helpers import BASE, add_token

RES_URL = BASE + "/open-apis/im/v1/messages/om_1/resources/file_1"
DATA = bytes(range(256)) * 4000  # ~1 MB, every byte value


@pytest.fixture
def served(emu):
    """A file message with a resource of DATA, served by the emulator."""
    mid = emu.add_message("file", {"file_key": "file_1", "file_name": "报告 2024.pdf"})
    emu.add_resource(mid, "file_1", DATA, content_type="application/pdf", filename="报告 2024.pdf")
    return mid


def leftovers(folder):
    return sorted(n for n in os.listdir(str(folder)) if n.endswith(".part"))


def test_to_a_file_object(emu_client, served):
    buf = io.BytesIO()
    res = emu_client.download_resource(served, "file_1", "file", buf)
    assert buf.getvalue() == DATA
    assert res.size == len(DATA)
    assert res.path is None and res.sha256 is None
    assert res.content_type == "application/pdf"
    assert res.filename == "报告 2024.pdf"


def test_to_a_path_with_checksum(emu_client, served, tmp_path):
    target = tmp_path / "out.pdf"
    res = emu_client.download_resource(served, "file_1", "file", target, checksum=True)
    assert target.read_bytes() == DATA
    assert res.path == str(target)
    assert res.sha256 == hashlib.sha256(DATA).hexdigest()
    assert leftovers(tmp_path) == []


def test_to_a_str_path(emu_client, served, tmp_path):
    target = str(tmp_path / "out.bin")
    assert emu_client.download_resource(served, "file_1", "file", target).path == target


def test_to_a_folder_uses_the_servers_name(emu_client, served, tmp_path):
    res = emu_client.download_resource(served, "file_1", "file", tmp_path)
    assert res.path == str(tmp_path / "报告 2024.pdf")
    assert (tmp_path / "报告 2024.pdf").read_bytes() == DATA


def test_to_a_folder_without_a_server_name(emu, emu_client, tmp_path):
    mid = emu.add_message("image", {"image_key": "img_v3_k"})
    emu.add_resource(mid, "img_v3_k", b"\x89PNG....", type="image", content_type="image/png")
    res = emu_client.download_resource(mid, "img_v3_k", "image", tmp_path)
    assert res.path == str(tmp_path / "img_v3_k.png")
    assert res.filename is None


def test_a_hostile_server_name_stays_in_the_folder(emu, emu_client, tmp_path):
    mid = emu.add_message("file", {"file_key": "file_evil"})
    emu.add_resource(mid, "file_evil", b"#!/bin/sh", filename="../../evil.sh")
    res = emu_client.download_resource(mid, "file_evil", "file",tmp_path)
    assert res.path == str(tmp_path / "evil.sh")
    assert sorted(os.listdir(str(tmp_path))) == ["evil.sh"]


def test_an_unusable_server_name_falls_back_to_the_file_key(emu, emu_client, tmp_path):
    mid = emu.add_message("file", {"file_key": "file_dots"})
    emu.add_resource(mid, "file_dots", b"data", content_type="text/plain", filename="..")
    res = emu_client.download_resource(mid, "file_dots", "file", tmp_path)
    assert res.path == str(tmp_path / "file_dots.txt")


def test_progress_is_monotonic_and_ends_at_the_total(emu_client, served):
    seen = []
    emu_client.download_resource(served, "file_1", "file", io.BytesIO(), progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (len(DATA), len(DATA))
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and len(set(dones)) == len(dones)


def test_an_existing_file_is_kept_and_no_request_is_sent(emu, emu_client, served, tmp_path):
    target = tmp_path / "keep.pdf"
    target.write_bytes(b"precious")
    before = emu.count()
    with pytest.raises(fm.DestinationExistsError):
        emu_client.download_resource(served, "file_1", "file", target)
    assert target.read_bytes() == b"precious"
    assert emu.count() == before


def test_an_existing_file_in_a_folder_is_kept(emu_client, served, tmp_path):
    (tmp_path / "报告 2024.pdf").write_bytes(b"precious")
    with pytest.raises(fm.DestinationExistsError):
        emu_client.download_resource(served, "file_1", "file", tmp_path)
    assert (tmp_path / "报告 2024.pdf").read_bytes() == b"precious"
    assert leftovers(tmp_path) == []


def test_overwrite_replaces(emu_client, served, tmp_path):
    target = tmp_path / "old.pdf"
    target.write_bytes(b"old")
    emu_client.download_resource(served, "file_1", "file", target, overwrite=True)
    assert target.read_bytes() == DATA


def test_a_broken_download_leaves_no_partial_file_and_the_old_one_intact(emu, emu_client, served, tmp_path):
    target = tmp_path / "old.pdf"
    target.write_bytes(b"old")
    emu.drop_after("file_1", 1000, times=100)  # every answer breaks off: resuming cannot win
    with pytest.raises(fm.TransportError, match="broke off 6 times in a row"):
        emu_client.download_resource(served, "file_1", "file", target, overwrite=True)
    assert target.read_bytes() == b"old"
    assert sorted(os.listdir(str(tmp_path))) == ["old.pdf"]


def test_ctrl_c_leaves_no_partial_file(emu_client, served, tmp_path):
    def interrupt(done, total):
        if done > 100000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        emu_client.download_resource(served, "file_1", "file", tmp_path / "x.pdf", progress=interrupt)
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize(
    "code, cls",
    [(234043, fm.UnsupportedMessageError), (234037, fm.TooLargeError), (234003, fm.NotFoundError),
     (230110, fm.NotFoundError), (234004, fm.PermissionDeniedError)],
)
def test_api_refusals_are_typed_and_leave_nothing(mock, client, tmp_path, code, cls):
    add_token(mock)
    mock.add(responses.GET, RES_URL, status=400, json={"code": code, "msg": "refused"},
             headers={"X-Tt-Logid": "lg"})
    with pytest.raises(cls) as info:
        client.download_resource("om_1", "file_1", "file", tmp_path / "f")
    assert info.value.code == code and info.value.log_id == "lg"
    assert os.listdir(str(tmp_path)) == []


def test_merge_forward_children_are_refused_by_the_emulator_as_by_feishu(emu, emu_client, tmp_path):
    top = emu.add_message("merge_forward", "Merged and Forwarded Message")
    child = emu.add_message("image", {"image_key": "img_c"}, upper_message_id=top)
    emu.add_resource(child, "img_c", b"png", type="image")
    msg = emu_client.get_message(top)
    (res,) = msg.children[0].resources
    with pytest.raises(fm.UnsupportedMessageError):
        emu_client.download_resource(res.message_id, res.file_key, res.type, tmp_path)


def test_a_gateway_error_page_on_download(mock, client, tmp_path):
    add_token(mock)
    mock.add(responses.GET, RES_URL, status=404, body="<html>Not Found</html>", content_type="text/html")
    with pytest.raises(fm.NotFoundError) as info:
        client.download_resource("om_1", "file_1", "file", tmp_path / "f")
    assert info.value.code is None and info.value.http_status == 404
    assert os.listdir(str(tmp_path)) == []


def test_request_shape(mock, client):
    add_token(mock)
    mock.add(responses.GET, RES_URL, body=b"abc", content_type="application/json")
    buf = io.BytesIO()
    client.download_resource("om_1", "file_1", "file", buf)
    assert buf.getvalue() == b"abc"  # a JSON *file* is the resource, not an error
    request = mock.calls[-1].request
    assert request.url == RES_URL + "?type=file"
    assert request.headers["Accept-Encoding"] == "identity"
    assert request.headers["Authorization"] == "Bearer t-first"


@pytest.mark.parametrize(
    "args",
    [
        ("om_1", "file_1", "video"),
        ("om_1", "file_1", ""),
        ("", "file_1", "file"),
        ("om_1", "", "file"),
        ("om/1", "file_1", "file"),
        ("om_1", "../file", "file"),
        ("om_1", "file\\1", "file"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(mock, client, args):
    with pytest.raises(fm.ConfigError):
        client.download_resource(*args, dest=io.BytesIO())
    assert len(mock.calls) == 0


@pytest.mark.parametrize("dest", [42, "/no/such/folder/x.bin"])
def test_bad_destinations_are_refused_before_any_request(mock, client, dest):
    with pytest.raises(fm.ConfigError):
        client.download_resource("om_1", "file_1", "file", dest)
    assert len(mock.calls) == 0


def test_a_refetched_token_mid_session_still_downloads(emu, emu_client, served):
    emu_client.get_message(served)
    emu.expire_tokens()
    buf = io.BytesIO()
    emu_client.download_resource(served, "file_1", "file", buf)
    assert buf.getvalue() == DATA
    assert emu.count("token") == 2


def test_the_saved_file_gets_ordinary_permissions(emu_client, served, tmp_path):
    old = os.umask(0o022)
    try:
        emu_client.download_resource(served, "file_1", "file", tmp_path / "p.pdf")
    finally:
        os.umask(old)
    if os.name == "posix":
        assert (tmp_path / "p.pdf").stat().st_mode & 0o777 == 0o644


def test_pathlib_and_relative_paths(emu_client, served, tmp_path, monkeypatch):
    monkeypatch.chdir(str(tmp_path))
    res = emu_client.download_resource(served, "file_1", "file", pathlib.Path("rel.pdf"))
    assert res.path == "rel.pdf" and (tmp_path / "rel.pdf").exists()


def _range_answer(mock, body, content_range, status=206):
    mock.add(responses.GET, RES_URL, status=status, body=body, headers={"Content-Range": content_range},
             content_type="application/octet-stream")


def test_a_range_that_delivers_more_than_it_declared_is_an_integrity_error(mock, client, tmp_path):
    add_token(mock)
    _range_answer(mock, b"x" * 20, "bytes 0-9/20")  # unframed (no Content-Length): 20 bytes come
    with pytest.raises(fm.IntegrityError, match="more than it declared"):
        client.download_resource("om_1", "file_1", "file", tmp_path / "f")
    assert os.listdir(str(tmp_path)) == []


def test_a_range_that_delivers_less_than_it_declared_is_an_integrity_error(mock, client, tmp_path):
    add_token(mock)
    _range_answer(mock, b"x" * 5, "bytes 0-9/10")
    with pytest.raises(fm.IntegrityError, match="declared bytes up to 10 but sent up to 5"):
        client.download_resource("om_1", "file_1", "file", tmp_path / "f")
    assert os.listdir(str(tmp_path)) == []


def test_a_content_range_without_a_total_is_an_integrity_error(mock, client, tmp_path):
    add_token(mock)
    _range_answer(mock, b"x" * 10, "bytes 0-9/*")
    with pytest.raises(fm.IntegrityError, match="no total"):
        client.download_resource("om_1", "file_1", "file", tmp_path / "f")
    assert os.listdir(str(tmp_path)) == []


def test_a_size_that_changes_between_requests_is_an_integrity_error(mock, client, tmp_path):
    add_token(mock)
    _range_answer(mock, b"x" * 131072, "bytes 0-131071/200000")
    mock.add(responses.GET, RES_URL, status=200, body=b"y" * 300000,  # Range ignored, other size
             headers={"Content-Length": "300000"})
    with pytest.raises(fm.IntegrityError, match="size changed"):
        client.download_resource("om_1", "file_1", "file", tmp_path / "f")
    assert os.listdir(str(tmp_path)) == []


def test_a_path_ending_in_a_slash_is_a_folder_made_if_missing(emu_client, served, tmp_path, monkeypatch):
    monkeypatch.chdir(str(tmp_path))
    res = emu_client.download_resource(served, "file_1", "file", "downloads/")
    assert res.path == os.path.join("downloads", "报告 2024.pdf")
    assert (tmp_path / "downloads" / "报告 2024.pdf").read_bytes() == DATA


def test_dest_is_required(client):
    # dest=None used to be accepted, and the bytes were downloaded and thrown away
    with pytest.raises(fm.ConfigError, match="dest is required"):
        client.download_resource("om_1", "file_1", "file", None)


def test_a_full_disk_leaves_nothing_and_names_the_file(emu_client, emu, tmp_path, monkeypatch):
    # closing the .part re-raised ENOSPC before its unlink: the .part used to stay behind
    import errno

    import feishu_msgres._files as files

    class FullDisk:
        """A file on a disk that fills after 300 KiB: writes fail, and so does the close's flush."""

        def __init__(self, real):
            self.real, self.written = real, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 300 * 1024:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.real.write(data)

        def close(self):
            self.real.close()
            raise OSError(errno.ENOSPC, "No space left on device")

    real_fdopen = files.os.fdopen
    monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    mid = emu.add_message("file", {"file_key": "file_f"})
    emu.add_resource(mid, "file_f", b"x" * (3 * 1024 * 1024))
    target = tmp_path / "big.bin"
    with pytest.raises(OSError) as caught:
        emu_client.download_resource(mid, "file_f", "file", target)
    assert caught.value.errno == errno.ENOSPC and str(target) in str(caught.value)
    assert os.listdir(str(tmp_path)) == []


def test_stale_parts_go_but_a_live_downloads_stays(tmp_path):
    from feishu_msgres._files import AtomicFile, remove_stale_parts

    live = AtomicFile(str(tmp_path / "a.pdf"), overwrite=False)  # holds its lock while it lives
    dead = tmp_path / ".a.pdf.0123abcd.part"
    dead.write_bytes(b"left by a killed run")
    other = tmp_path / ".b.pdf.0123abcd.part"
    other.write_bytes(b"another target's")
    (tmp_path / "_bashrc").write_bytes(b"a server's name, made visible")
    os.symlink(str(other), str(tmp_path / ".a.pdf.feedbeef.part"))
    assert remove_stale_parts(str(tmp_path), "a.pdf") == 1  # the dead one; not the live one, not a link
    assert not dead.exists() and os.path.exists(live.temp_path) and other.exists()
    live.discard()
    assert remove_stale_parts(str(tmp_path)) == 1 and not other.exists()  # any target's
    assert sorted(os.listdir(str(tmp_path))) == [".a.pdf.feedbeef.part", "_bashrc"]


def test_a_file_system_that_refuses_locks_still_downloads(emu_client, emu, tmp_path, monkeypatch):
    import errno

    import feishu_msgres._parts as parts

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(parts.fcntl, "flock", no_locks)
    mid = emu.add_message("file", {"file_key": "file_l"})
    emu.add_resource(mid, "file_l", b"locked out")
    emu_client.download_resource(mid, "file_l", "file", tmp_path / "l.bin")
    assert os.listdir(str(tmp_path)) == ["l.bin"]


def test_a_cleaner_at_the_moment_of_commit_leaves_the_download_alone(emu_client, emu, tmp_path, monkeypatch):
    # the lock used to be released (file closed) before the move: a cleaner then removed the part
    import feishu_msgres._files as files

    real_link = files.os.link

    def link_after_a_cleaner(src, dst):
        assert files.remove_stale_parts(str(tmp_path)) == 0
        return real_link(src, dst)

    monkeypatch.setattr(files.os, "link", link_after_a_cleaner)
    mid = emu.add_message("file", {"file_key": "file_c"})
    emu.add_resource(mid, "file_c", b"committed")
    emu_client.download_resource(mid, "file_c", "file", tmp_path / "c.bin")
    assert (tmp_path / "c.bin").read_bytes() == b"committed" and os.listdir(str(tmp_path)) == ["c.bin"]


def test_a_folder_is_looked_through_once_per_process(tmp_path, monkeypatch):
    import feishu_msgres._parts as parts
    from feishu_msgres._files import AtomicFile

    scans = []
    real_scandir = parts.os.scandir
    monkeypatch.setattr(parts.os, "scandir", lambda path: scans.append(path) or real_scandir(path))
    for n in range(5):
        AtomicFile(str(tmp_path / ("f%d" % n)), overwrite=False).discard()
    assert len(scans) == 1


def test_without_locks_stale_parts_go_when_they_can(tmp_path, monkeypatch):
    import feishu_msgres._parts as parts

    monkeypatch.setattr(parts, "fcntl", None)  # Windows: an open file cannot be removed, so try
    (tmp_path / ".x.pdf.0123abcd.part").write_bytes(b"stale")
    assert parts.remove_stale(str(tmp_path)) == 1 and os.listdir(str(tmp_path)) == []


def test_a_stream_tells_its_sha256_once_read_to_the_end(emu_client, served):
    with emu_client.open_resource(served, "file_1", "file", checksum=True) as stream:
        chunks = iter(stream)
        first = next(chunks)
        assert stream.sha256 is None  # not yet: a partial digest would look like the file's
        data = bytes(first) + b"".join(chunks)
        assert stream.sha256 == hashlib.sha256(DATA).hexdigest()
    assert data == DATA


def test_a_stream_without_checksum_has_no_sha256(emu_client, served):
    with emu_client.open_resource(served, "file_1", "file") as stream:
        for _ in stream:
            pass
        assert stream.sha256 is None


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_overwriting_keeps_the_permissions_of_the_file_replaced(emu_client, served, tmp_path):
    target = tmp_path / "secret.pdf"
    target.write_bytes(b"old")
    os.chmod(str(target), 0o600)
    emu_client.download_resource(served, "file_1", "file", target, overwrite=True)
    assert target.read_bytes() == DATA
    assert os.stat(str(target)).st_mode & 0o777 == 0o600  # was 0644: the umask's
