"""What notebooks and web frameworks use: HTML cards, inline images, streams."""
import hashlib

import pytest

import feishu_msgres as fm
from feishu_msgres.demo import png

PNG = png()


@pytest.fixture
def image(emu):
    mid = emu.add_message("image", {"image_key": "img_k"})
    emu.add_resource(mid, "img_k", PNG, type="image", content_type="image/png", filename="chart.png")
    return mid


def test_message_html_card_escapes_and_lists_resources(emu, emu_client):
    mid = emu.add_message("post", {"title": "<b>Launch</b> & co", "content": [[{"tag": "img", "image_key": "img_1"}]]})
    html = emu_client.get_message(mid)._repr_html_()
    assert "&lt;b&gt;Launch&lt;/b&gt; &amp; co" in html and "<b>Launch</b>" not in html
    assert "img_1" in html and "post" in html and "ou_emulator_sender" in html
    top = emu.add_message("merge_forward", "Merged and Forwarded Message")
    emu.add_message("text", {"text": "inside"}, upper_message_id=top)
    assert "inside" in emu_client.get_message(top)._repr_html_()


def test_read_resource_gives_bytes_that_show_inline(emu_client, image):
    data = emu_client.read_resource(image, "img_k", "image")
    assert isinstance(data, bytes) and data == PNG
    assert data.content_type == "image/png" and data.filename == "chart.png"
    bundle = data._repr_mimebundle_()
    assert bundle["image/png"] == PNG and "chart.png" in bundle["text/plain"]
    assert "image/png" not in fm.ResourceData(b"%PDF", "application/pdf")._repr_mimebundle_()


def test_read_resource_refuses_big_ones_before_reading_them(emu, emu_client):
    mid = emu.add_message("file", {"file_key": "file_big"})
    emu.add_resource(mid, "file_big", b"x" * 500000)
    with pytest.raises(fm.TooLargeError, match="max_bytes"):
        emu_client.read_resource(mid, "file_big", "file", max_bytes=100000)
    assert [r.headers.get("Range") for r in emu.requests if r.kind == "resource"] == ["bytes=0-131071"]


def test_open_resource_streams_with_headers_first(emu, emu_client):
    data = bytes(range(256)) * 20000
    mid = emu.add_message("file", {"file_key": "file_s"})
    emu.add_resource(mid, "file_s", data, content_type="video/mp4", filename="clip.mp4")
    emu.drop_after("file_s", 300000, after=1)  # a break mid-stream is resumed as in any download
    with emu_client.open_resource(mid, "file_s", "file") as stream:
        assert (stream.content_type, stream.filename, stream.size) == ("video/mp4", "clip.mp4", len(data))
        assert emu.count("resource") == 1  # only the first request so far
        digest = hashlib.sha256()
        sizes = []
        for chunk in stream:
            digest.update(chunk)
            sizes.append(len(chunk))
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert max(sizes) <= 1024 * 1024  # constant memory: chunks, never the whole body


def test_iter_resource_and_an_early_stop(emu, emu_client, image):
    assert b"".join(emu_client.iter_resource(image, "img_k", "image")) == PNG
    stream = emu_client.open_resource(image, "img_k", "image")
    stream.close()  # a browser that went away: nothing more is read
    assert list(stream) == []
