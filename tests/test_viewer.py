"""The export's pages (issue 16): escaping, marking, nesting, the month split, reruns."""
import os

from feishu_msgres.manifest import ManifestLine
from feishu_msgres.models import Message
from feishu_msgres.viewer import CSP, INDEX, build_pages, safe_path, write_pages


def item(mid, msg_type, content, ms=1700000000000, **fields):
    import json

    data = {"message_id": mid, "msg_type": msg_type, "create_time": str(ms),
            "sender": {"id": fields.pop("sender", "ou_a"), "sender_type": "user"},
            "body": {"content": json.dumps(content)}}
    data.update(fields)
    return data


def msg(*args, **kwargs):
    return Message.from_api(item(*args, **kwargs))


def saved(mid, key, kind, path, content_type="image/png"):
    return ManifestLine(mid, key, kind, saved_path=path, size_bytes=3, content_type=content_type)


def one_page(messages, lines=(), **kwargs):
    pages = build_pages(messages, {line.key: line for line in lines}, **kwargs)
    assert list(pages) == [INDEX]
    return pages[INDEX]


def test_service_strings_are_escaped_and_no_script_or_outside_link_is_made():
    hostile = "<script>window.pwned=1</script><img src=x onerror=alert(1)>"
    post = msg("om_p", "post", {"title": hostile, "content": [[
        {"tag": "a", "text": "click", "href": "javascript:alert(1)"}, {"tag": "text", "text": hostile},
        {"tag": "a", "href": "https://evil.example/x.png"}]]}, sender='ou_"><b>')
    page = one_page([msg("om_t", "text", {"text": hostile}), post], title="<i>chat</i>")
    assert "<script" not in page and "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
    assert page.count("&lt;script&gt;window.pwned=1&lt;/script&gt;") == 3
    assert "javascript:alert(1)" in page and 'href="javascript' not in page
    assert 'href="https' not in page and 'src="https' not in page and "https://evil.example/x.png" in page
    assert "ou_&quot;&gt;&lt;b&gt;" in page and "&lt;i&gt;chat&lt;/i&gt;" in page
    assert '<meta http-equiv="Content-Security-Policy" content="%s">' % CSP.replace("'", "&#x27;") in page


def test_images_inline_media_and_files_linked_by_quoted_relative_paths():
    image = msg("om_i", "image", {"image_key": "img_1"})
    media = msg("om_m", "media", {"file_key": "file_v", "image_key": "img_c", "file_name": "v.mp4"})
    audio = msg("om_a", "audio", {"file_key": "file_a"})
    doc = msg("om_f", "file", {"file_key": "file_d", "file_name": "a b#?.pdf"})
    lines = [saved("om_i", "img_1", "image", "files/x/报告 1.png"),
             saved("om_m", "file_v", "file", "files/m/v.mp4", "video/mp4"),
             saved("om_m", "img_c", "image", "files/m/c.png"),
             saved("om_a", "file_a", "file", "files/a/voice.opus", "audio/opus"),
             saved("om_f", "file_d", "file", "files/f/a b#?.pdf", "application/pdf")]
    page = one_page([image, media, audio, doc], lines)
    assert '<img src="files/x/%E6%8A%A5%E5%91%8A%201.png"' in page
    assert '<video controls preload="none" src="files/m/v.mp4">' in page and '<img src="files/m/c.png"' in page
    assert '<audio controls preload="none" src="files/a/voice.opus">' in page
    assert '<a href="files/f/a%20b%23%3F.pdf">a b#?.pdf</a>' in page


def test_a_post_shows_its_images_in_place_and_once():
    post = msg("om_p", "post", {"title": "T", "content": [
        [{"tag": "text", "text": "before"}, {"tag": "img", "image_key": "img_p"}, {"tag": "text", "text": "after"}]]})
    page = one_page([post], [saved("om_p", "img_p", "image", "files/p/i.png")])
    assert page.index("before") < page.index('src="files/p/i.png"') < page.index("after")
    assert page.count('src="files/p/i.png"') == 1


def test_a_saved_path_outside_files_is_never_linked():
    for bad in ("../x.png", "/etc/passwd", "files/../../x", "http://x/y.png", "files\\..\\x", "javascript:x"):
        assert safe_path(bad) is None
    image = msg("om_i", "image", {"image_key": "img_1"})
    page = one_page([image], [saved("om_i", "img_1", "image", "files/../../../etc/passwd")])
    assert "etc/passwd" not in page.split("<body>")[1].split("failed")[0] and "<img" not in page


def test_recalled_refused_failed_and_missing_are_marked():
    recalled = msg("om_r", "text", {}, deleted=True)
    doc = msg("om_f", "file", {"file_key": "file_1", "file_name": "a.pdf"})
    img = msg("om_i", "image", {"image_key": "img_1"})
    other = msg("om_o", "file", {"file_key": "file_2"})
    refused = ManifestLine("om_f", "file_1", "file", error="too large <b>", code=234037, permanent=True)
    failed = ManifestLine("om_i", "img_1", "image", error="timed out", code=None)
    page = one_page([recalled, doc, img, other], [refused, failed])
    assert 'class="msg recalled"' in page and "This message was recalled." in page
    assert "refused (code 234037)</span> a.pdf: too large &lt;b&gt;" in page
    assert "failed</span> img_1: timed out" in page and "not downloaded yet</span> file_2" in page


def test_forwarded_messages_are_nested_and_an_unread_forward_is_marked():
    items = [item("om_f", "merge_forward", "Merged and Forwarded Message"),
             item("om_c1", "text", {"text": "child one"}, upper_message_id="om_f"),
             item("om_c2", "merge_forward", "x", upper_message_id="om_f"),
             item("om_g", "text", {"text": "grandchild"}, upper_message_id="om_c2")]
    forward = Message.from_items(items, "om_f")
    page = one_page([forward, msg("om_u", "merge_forward", "x")], children_errors={"om_u": "no permission"})
    outer = page.index('id="m-om_f"')
    assert outer < page.index('class="forwarded"') < page.index("child one") < page.index("grandchild")
    assert page.count('class="forwarded"') == 3 and "forwarded messages not read</span> no permission" in page


def test_order_sender_and_utc_time():
    late, early = msg("om_2", "text", {"text": "second"}, ms=1700000060000), msg("om_1", "text", {"text": "first"})
    page = one_page([late, early])
    assert page.index("first") < page.index("second")
    assert '<time datetime="2023-11-14T22:13:20+00:00">2023-11-14T22:13:20Z</time>' in page
    assert '<span class="who">ou_a</span>' in page


def test_more_than_one_month_or_many_messages_gives_a_page_a_month():
    nov, dec = msg("om_1", "text", {"text": "nov"}), msg("om_2", "text", {"text": "dec"}, ms=1702000000000)
    pages = build_pages([dec, nov], {}, title="c")
    assert sorted(pages) == ["2023-11.html", "2023-12.html", INDEX]
    assert 'href="2023-11.html"' in pages[INDEX]
    assert "nov" in pages["2023-11.html"] and "dec" not in pages["2023-11.html"]
    assert 'href="2023-12.html">2023-12 &rarr;' in pages["2023-11.html"]
    many = [msg("om_%d" % i, "text", {"text": str(i)}, ms=1700000000000 + i) for i in range(5)]
    assert sorted(build_pages(many, {}, split_over=4)) == ["2023-11.html", INDEX]
    assert list(build_pages(many, {}, split_over=5)) == [INDEX]


def test_an_export_writes_the_page_and_a_rerun_updates_it(emu, tmp_path):
    emu.add_message("text", {"text": "hello <b>"}, chat_id="oc_v")
    with emu.client() as client:
        client.export_chat("oc_v", str(tmp_path))
        page = (tmp_path / INDEX).read_text(encoding="utf-8")
        assert "hello &lt;b&gt;" in page and "Chat oc_v" in page
        emu.add_message("text", {"text": "and again"}, chat_id="oc_v")
        client.export_chat("oc_v", str(tmp_path))
    page = (tmp_path / INDEX).read_text(encoding="utf-8")
    assert "hello &lt;b&gt;" in page and "and again" in page
    assert not [n for n in os.listdir(str(tmp_path)) if n.endswith(".tmp")]


def test_the_page_is_never_written_through_a_link(tmp_path):
    (tmp_path / "elsewhere.html").write_text("mine")
    os.symlink(str(tmp_path / "elsewhere.html"), str(tmp_path / INDEX))
    write_pages(str(tmp_path))  # replaces the link with a file of its own
    assert (tmp_path / "elsewhere.html").read_text() == "mine" and not os.path.islink(str(tmp_path / INDEX))
