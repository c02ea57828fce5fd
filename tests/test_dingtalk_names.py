"""DingTalk files saved under the name the robot callback gives (``fileName``, seed 004's
"replace the local file extension"), made safe like any server name (issue 15)."""
import os

import pytest

import feishu_msgres as fm
from feishu_msgres.errors import ConfigError
from feishu_msgres.testing.dingtalk import DingTalkEmulator

PDF = b"%PDF-1.7 quarterly numbers"


@pytest.fixture
def ding_emu():
    with DingTalkEmulator() as server:
        # as the real store: no Content-Disposition, a random <id>.file URL
        server.add_file("dc_pdf", PDF, content_type="application/pdf")
        yield server


@pytest.fixture
def ding(ding_emu):
    with ding_emu.client(timeout=(2, 5)) as client:
        yield client


def test_the_callbacks_file_name_names_the_file_in_a_folder(ding, tmp_path):
    callback = {"msgtype": "file", "content": {"downloadCode": "dc_pdf", "fileName": "季度报告.pdf"}}
    item = fm.robot_files(callback)[0]
    result = ding.download(item.download_code, tmp_path, file_name=item.name)
    assert result.path == str(tmp_path / "季度报告.pdf")
    assert os.listdir(str(tmp_path)) == ["季度报告.pdf"]
    assert (tmp_path / "季度报告.pdf").read_bytes() == PDF
    assert result.filename == "季度报告.pdf" and result.content_type == "application/pdf"


def test_without_a_file_name_the_urls_random_name_stays(ding, tmp_path):
    result = ding.download("dc_pdf", tmp_path, file_name=None)
    assert result.filename is None and result.path.endswith(".pdf")
    assert os.path.basename(result.path) != "季度报告.pdf"


def test_a_file_name_without_an_extension_gets_the_content_types(ding, tmp_path):
    result = ding.download("dc_pdf", tmp_path, file_name="报告")
    assert result.path == str(tmp_path / "报告.pdf")


@pytest.mark.parametrize(
    "hostile, saved",
    [
        ("../../outside.pdf", "outside.pdf"),  # only the last path component
        ("..\\evil.pdf", "evil.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # a bidi override that makes it read as .pdf
        (".bashrc", "_bashrc.pdf"),  # never a hidden file
        ("CON", "_CON.pdf"),  # a Windows device name
    ],
)
def test_a_hostile_file_name_is_made_safe(ding, tmp_path, hostile, saved):
    result = ding.download("dc_pdf", tmp_path, file_name=hostile)
    assert result.path == str(tmp_path / saved)
    assert os.listdir(str(tmp_path)) == [saved]


@pytest.mark.parametrize("unusable", ["", "..", "bad\x00name.pdf", "   "])
def test_an_unusable_file_name_falls_back_to_the_stores_name(ding, tmp_path, unusable):
    result = ding.download("dc_pdf", tmp_path, file_name=unusable)
    assert os.path.dirname(result.path) == str(tmp_path) and result.path.endswith(".pdf")
    assert result.filename is None


def test_a_path_destination_keeps_its_own_name(ding, tmp_path):
    result = ding.download("dc_pdf", tmp_path / "mine.bin", file_name="季度报告.pdf")
    assert result.path == str(tmp_path / "mine.bin")


def test_open_and_read_file_report_the_file_name(ding):
    assert ding.read_file("dc_pdf", file_name="季度报告.pdf").filename == "季度报告.pdf"
    assert ding.read_file("dc_pdf", file_name="a/b/报告").filename == "报告"
    with ding.open_file("dc_pdf", file_name="季度报告.pdf") as stream:
        assert stream.filename == "季度报告.pdf"
        assert b"".join(stream) == PDF


def test_a_file_name_that_is_not_text_is_refused_before_any_request(ding_emu, ding, tmp_path):
    with pytest.raises(ConfigError, match="file_name"):
        ding.download("dc_pdf", tmp_path, file_name=b"report.pdf")
    assert ding_emu.requests == []


def test_the_command_saves_under_the_callbacks_file_name(tmp_path):
    import os
    import subprocess
    import sys

    from feishu_msgres.testing.dingtalk import DingTalkEmulator

    with DingTalkEmulator() as ding:
        ding.add_file("dc_named", b"%PDF-1.7 ...", content_type="application/pdf")
        env = dict(os.environ, DINGTALK_BASE_URL=ding.url, DINGTALK_APP_KEY=ding.app_key,
                   DINGTALK_APP_SECRET=ding.app_secret, DINGTALK_ROBOT_CODE=ding.robot_code)
        done = subprocess.run([sys.executable, "-m", "feishu_msgres", "dingtalk-download", "--download-code",
                               "dc_named", "--output", "inbox/", "--file-name", "季度报告.pdf"], cwd=str(tmp_path),
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              timeout=60)
    assert done.returncode == 0, done.stderr
    assert os.listdir(str(tmp_path / "inbox")) == ["季度报告.pdf"]
