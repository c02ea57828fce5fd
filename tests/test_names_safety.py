"""Names from the server and --output from the user: nothing spoofed, nothing outside (issue 14)."""
import os
import subprocess
import sys

import pytest

from feishu_msgres._names import choose_name, extension_for, safe_filename
from feishu_msgres.cli.paths import output_problem


@pytest.mark.parametrize("offered, saved", [
    ("invoice\u202efdp.exe", "invoicefdp.exe"),  # showed as "invoiceexe.pdf"
    ("rep\u200bort\u2066.pdf", "report.pdf"),
    ("\ufeffbom.txt", "bom.txt"),
    ("CON", "_CON"), ("nul.txt", "_nul.txt"), ("COM1.log", "_COM1.log"), ("lpt9", "_lpt9"),
    ("report.pdf. . ", "report.pdf"),
    (".bash_profile", "_bash_profile"),
    ("Console.txt", "Console.txt"), ("季度报告.pdf", "季度报告.pdf"),
])
def test_server_names_are_made_safe(offered, saved):
    assert safe_filename(offered) == saved


@pytest.mark.parametrize("offered", ["a\x85b.pdf", "a\u2028b.pdf", "a\u2029b", "tab\there", "del\x7f"])
def test_names_with_control_characters_fall_back_to_the_file_key(offered):
    assert choose_name("file_v3_key", offered, "application/pdf") == ("file_v3_key.pdf", None)


@pytest.mark.parametrize("ctype, ext", [
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    ("application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx"),
    ("audio/ogg", ".ogg"), ("audio/wav", ".wav"), ("video/3gpp", ".3gp"),
    ("application/x-zip-compressed", ".zip"), ("application/x-rar-compressed", ".rar"),
    ("application/xml", ".xml"), ("IMAGE/PNG; charset=binary", ".png"),
    ("application/octet-stream", ""), ("application/x-made-up", ""),
])
def test_extensions_come_from_the_bundled_table(ctype, ext):
    assert extension_for(ctype) == ext


def test_the_table_does_not_depend_on_the_machine(monkeypatch):
    import mimetypes

    monkeypatch.setattr(mimetypes, "guess_extension", lambda *a, **k: ".xsl")
    assert extension_for("application/xml") == ".xml" and extension_for("application/x-made-up") == ""


@pytest.mark.parametrize("output, why", [
    ("a\x1bb.png", "control"), ("a\u202eb.png", "invisible"), ("a\u200bb.png", "invisible"),
    (" out.png ", "space"), ("dir/ . /x", "space"), ("/etc/x", "relative"), ("../x", ".."), ("", "empty"),
    ("~/x", "relative"),
])
def test_bad_outputs_are_refused(output, why, tmp_path):
    problem = output_problem(output, str(tmp_path))
    assert problem is not None and why in problem


def test_an_output_through_a_link_that_escapes_is_refused(tmp_path):
    outside, work = tmp_path / "outside", tmp_path / "work"
    outside.mkdir()
    work.mkdir()
    os.symlink(str(outside), str(work / "link"))
    assert "outside the working folder" in output_problem("link/a.png", str(work))
    # an ancestor link, the folders under it still to be made
    assert "outside the working folder" in output_problem("link/new/deeper/a.png", str(work))
    os.symlink(str(work / "inside"), str(work / "fine"))
    assert output_problem("fine/a.png", str(work)) is None
    assert output_problem("photos/cat", str(work)) is None and output_problem("files/", str(work)) is None


def test_the_command_refuses_with_the_subcommands_usage_and_exit_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "feishu_msgres", "download", "--message-id", "om_1",
                           "--file-key", "file_1", "--type", "file", "--output", "a\u202eb.png"],
                          cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60, env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    assert done.returncode == 2
    assert "usage: feishu-msgres download" in done.stderr and "invisible character" in done.stderr
    assert os.listdir(str(tmp_path)) == []
