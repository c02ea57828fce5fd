"""An export writes, creates and deletes nothing outside its folder (issue 14)."""
import datetime
import os

import pytest

import feishu_msgres as fm
from feishu_msgres._exportdir import ExportLock

T0 = 1700000000


def add_file(emu, message_id=None, name="a.txt", data=b"attachment"):
    mid = emu.add_message("file", {"file_key": "file_1", "file_name": name}, message_id=message_id,
                          create_time=T0 * 1000)
    emu.add_resource(mid, "file_1", data, filename=name)
    return mid


def folder_of(mid):
    stamp = datetime.datetime.fromtimestamp(T0, datetime.timezone.utc).strftime("%Y-%m-%d_%H%M%S")
    return "%s_%s" % (stamp, mid)


@pytest.fixture
def outside(tmp_path):
    place = tmp_path / "outside"
    place.mkdir()
    (place / "a.txt").write_bytes(b"precious")
    return place


def test_a_link_planted_at_a_message_folders_name_is_not_written_through(emu, tmp_path, outside):
    mid = add_file(emu)
    export = tmp_path / "export"
    (export / "files").mkdir(parents=True)
    os.symlink(str(outside), str(export / "files" / folder_of(mid)))
    with emu.client() as client:
        with pytest.raises(fm.ConfigError, match="is a link"):
            client.export_chat("oc_emulator", str(export))
    assert (outside / "a.txt").read_bytes() == b"precious" and os.listdir(str(outside)) == ["a.txt"]


@pytest.mark.parametrize("name", ["messages.jsonl", "manifest.jsonl", "files"])
def test_a_link_planted_at_the_exports_own_files_is_not_written_through(emu, tmp_path, outside, name):
    add_file(emu)
    export = tmp_path / "export"
    export.mkdir()
    target = outside / "a.txt" if name != "files" else outside
    os.symlink(str(target), str(export / name))
    with emu.client() as client:
        with pytest.raises(fm.ConfigError, match="link"):
            client.export_chat("oc_emulator", str(export))
    assert (outside / "a.txt").read_bytes() == b"precious" and os.listdir(str(outside)) == ["a.txt"]


def test_a_message_id_from_the_service_never_leads_outside(emu, tmp_path):
    add_file(emu, message_id="om_x/../../../escaped")
    export = tmp_path / "deep" / "export"
    with emu.client() as client:
        summary = client.export_chat("oc_emulator", str(export))
    assert summary.refused == 1  # refused before any request: the id cannot be sent
    assert sorted(os.listdir(str(tmp_path))) == ["deep"] and os.listdir(str(tmp_path / "deep")) == ["export"]
    assert os.listdir(str(export / "files")) == []  # its folder came and went inside


def test_an_attachment_named_like_a_temporary_file_survives_later_runs(emu, tmp_path):
    add_file(emu, name=".q3-report.deadbeef.part", data=b"the report")
    export = tmp_path / "export"
    with emu.client() as client:
        client.export_chat("oc_emulator", str(export))
        client.export_chat("oc_emulator", str(export))
    found = [os.path.join(r, n) for r, _d, names in os.walk(str(export / "files")) for n in names]
    assert len(found) == 1 and open(found[0], "rb").read() == b"the report"


def test_a_second_export_into_the_same_folder_is_refused_while_one_runs(emu, tmp_path):
    add_file(emu)
    export = tmp_path / "export"
    export.mkdir()
    held = ExportLock(str(export))
    try:
        with emu.client() as client:
            with pytest.raises(fm.ConfigError, match="another export is writing into"):
                client.export_chat("oc_emulator", str(export))
    finally:
        held.release()
    with emu.client() as client:
        assert client.export_chat("oc_emulator", str(export)).downloaded == 1


# -- threads over the emulator: a chat lists a thread's first message only ---------------------

def _thread(emu):
    root = emu.add_message("text", {"text": "shall we?"}, thread_id="omt_1", create_time=T0 * 1000)
    replies = []
    for n in range(2):
        mid = emu.add_message("file", {"file_key": "file_r%d" % n, "file_name": "r%d.txt" % n}, thread_id="omt_1",
                              root_id=root, parent_id=root, create_time=(T0 + 10 + n) * 1000)
        emu.add_resource(mid, "file_r%d" % n, b"reply %d" % n, filename="r%d.txt" % n)
        replies.append(mid)
    later = emu.add_message("text", {"text": "after"}, create_time=(T0 + 5) * 1000)
    return root, replies, later


def test_thread_replies_come_after_the_message_that_opened_the_thread(emu):
    root, replies, later = _thread(emu)
    with emu.client() as client:
        assert [m.message_id for m in client.iter_messages("oc_emulator")] == [root, later]
        assert [m.message_id for m in client.iter_messages("oc_emulator", expand_threads=True)] == \
            [root] + replies + [later]


def test_export_downloads_the_attachments_of_thread_replies(emu, tmp_path):
    _thread(emu)
    with emu.client() as client:
        summary = client.export_chat("oc_emulator", str(tmp_path / "e"))
    assert summary.downloaded == 2 and summary.messages == 4
    names = sorted(n for _r, _d, files in os.walk(str(tmp_path / "e" / "files")) for n in files)
    assert names == ["r0.txt", "r1.txt"]
