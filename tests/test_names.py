import pytest
from hypothesis import given
from hypothesis import strategies as st

from feishu_msgres._names import (
    choose_filename,
    extension_for,
    parse_content_disposition,
    safe_filename,
    split_ext,
)


@pytest.mark.parametrize(
    "header, name",
    [
        ('attachment; filename="report.pdf"', "report.pdf"),
        ("attachment; filename=report.pdf", "report.pdf"),
        ('attachment; filename="a b.pdf"', "a b.pdf"),
        ('attachment; filename="a\\"b.txt"', 'a"b.txt'),
        # filename* (RFC 5987) wins over filename, whatever the order
        ("attachment; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf; filename=\"x.pdf\"", "报告.pdf"),
        ("attachment; filename=\"x.pdf\"; filename*=utf-8'zh'%E6%8A%A5%E5%91%8A.pdf", "报告.pdf"),
        ("attachment; FILENAME*=iso-8859-1''caf%E9.txt", "café.txt"),
        # a broken filename* falls back to filename
        ("attachment; filename*=bogus-charset''%E6.txt; filename=\"plain.txt\"", "plain.txt"),
        ("attachment; filename*=no-quotes.txt; filename=\"plain.txt\"", "plain.txt"),
        # raw UTF-8 read as latin-1 by http.client, and percent-encoded plain names
        ('attachment; filename="\xe6\x8a\xa5\xe5\x91\x8a.pdf"', "报告.pdf"),
        ('attachment; filename="%E6%8A%A5%E5%91%8A.pdf"', "报告.pdf"),
        ('filename="no-type.bin"', "no-type.bin"),
        ("inline", None),
        ("", None),
        (None, None),
        ('attachment; filename=""', None),
    ],
)
def test_parse_content_disposition(header, name):
    assert parse_content_disposition(header) == name


@pytest.mark.parametrize(
    "raw, safe",
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system.ini", "system.ini"),
        ("/abs/path/x.png", "x.png"),
        ("..", None),
        (".", None),
        ("dir/", None),
        ("", None),
        (None, None),
        ("bad\x00name", None),
        ("bell\x07.txt", None),
        ("del\x7f", None),
        ('what?<>:"|*.txt', "what_______.txt"),
        ("  spaced.txt  ", "spaced.txt"),
        ("trailing...", "trailing"),
        (".bashrc", "_bashrc"),  # a server never plants a hidden file
        ("..bash_profile", "_bash_profile"),
    ],
)
def test_safe_filename(raw, safe):
    assert safe_filename(raw) == safe


def test_long_names_keep_their_extension_within_255_bytes():
    name = "报" * 200 + ".pdf"
    safe = safe_filename(name)
    assert safe.endswith(".pdf")
    assert len(safe.encode("utf-8")) <= 255
    assert safe.startswith("报")


def test_split_ext():
    assert split_ext("a.tar.gz") == ("a.tar", ".gz")
    assert split_ext(".bashrc") == (".bashrc", "")
    assert split_ext("noext") == ("noext", "")
    assert split_ext("dot.") == ("dot.", "")


@pytest.mark.parametrize(
    "ctype, ext",
    [
        ("image/png", ".png"),
        ("image/jpeg", ".jpg"),
        ("IMAGE/JPEG; charset=binary", ".jpg"),
        ("video/mp4", ".mp4"),
        ("audio/opus", ".opus"),
        ("application/pdf", ".pdf"),
        ("application/octet-stream", ""),
        ("application/x-not-a-real-type", ""),
        (None, ""),
        ("", ""),
    ],
)
def test_extension_for(ctype, ext):
    assert extension_for(ctype) == ext


def test_choose_filename():
    # the server's name, as sent
    assert choose_filename("file_k", 'attachment; filename="a.pdf"', "application/pdf") == ("a.pdf", "a.pdf")
    # a name without an extension gets one from Content-Type
    assert choose_filename("file_k", 'attachment; filename="readme"', "text/plain") == ("readme.txt", "readme")
    # no usable name: file_key plus an extension
    assert choose_filename("img_v3_k", None, "image/png") == ("img_v3_k.png", None)
    assert choose_filename("file_k", 'attachment; filename=".."', "application/pdf") == ("file_k.pdf", None)
    assert choose_filename("file_k", None, "application/octet-stream") == ("file_k", None)


@given(st.text())
def test_safe_filename_never_escapes_the_folder(name):
    safe = safe_filename(name)
    if safe is not None:
        assert "/" not in safe and "\\" not in safe
        assert safe not in ("", ".", "..")
        assert not any(ord(c) < 32 for c in safe)
        assert len(safe.encode("utf-8")) <= 255


@given(st.text(), st.sampled_from(["utf-8", "iso-8859-1"]))
def test_parse_content_disposition_never_raises(name, charset):
    from urllib.parse import quote

    header = "attachment; filename*=%s''%s" % (charset, quote(name, encoding=charset, errors="replace"))
    result = parse_content_disposition(header)
    assert result is None or isinstance(result, str)


def test_numbered_names_stay_within_255_bytes():
    from feishu_msgres._names import numbered

    assert numbered("report.pdf", 2) == "report (2).pdf"
    assert numbered("noext", 3) == "noext (3)"
    long_name = safe_filename("季" * 84 + ".pdf")
    second = numbered(long_name, 2)
    assert second.endswith(" (2).pdf") and len(second.encode("utf-8")) <= 255
