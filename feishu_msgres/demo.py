"""``feishu-msgres demo``: sample chat content (an emulator with one message of each kind)
and the tour that runs the command's steps against it, offline.

The bytes are real enough to open: a PNG that decodes, a PDF that renders, an MP4 header.
"""
from __future__ import annotations

import os
import pathlib
import struct
import zlib
from typing import Any, Callable, Dict, Tuple

from .cli.output import PROG, emit_result, report_download_all
from .testing import FeishuEmulator


def png(width: int = 64, height: int = 48, rgb: Tuple[int, int, int] = (51, 112, 255)) -> bytes:
    """A valid PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height))
            + chunk(b"IEND", b""))


def pdf(text: str = "feishu_msgres demo") -> bytes:
    """A one-page PDF that says ``text``."""
    stream = ("BT /F1 24 Tf 72 720 Td (%s) Tj ET" % text).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def mp4(size: int) -> bytes:
    """``size`` bytes that start like an MP4 (an ftyp box), the rest a repeating pattern."""
    head = struct.pack(">I", 24) + b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2"
    body = bytes(range(256)) * (size // 256 + 1)
    return (head + body)[:size]


def sample_emulator() -> Tuple[FeishuEmulator, Dict[str, str]]:
    """An emulator (not started) holding the sample chat, and the ids of its messages."""
    emu = FeishuEmulator()
    ids: Dict[str, str] = {}
    ids["text"] = emu.add_message("text", {"text": "Quarterly numbers attached, see below"})
    ids["image"] = emu.add_message("image", {"image_key": "img_v3_demo_chart"})
    emu.add_resource(ids["image"], "img_v3_demo_chart", png(), type="image", content_type="image/png")
    ids["file"] = emu.add_message("file", {"file_key": "file_v3_demo_report", "file_name": "季度报告.pdf"})
    emu.add_resource(ids["file"], "file_v3_demo_report", pdf("Q3 report"), content_type="application/pdf",
                     filename="季度报告.pdf")
    ids["post"] = emu.add_message("post", {"title": "Launch notes", "content": [
        [{"tag": "text", "text": "The new dashboard:"}, {"tag": "img", "image_key": "img_v3_demo_post"}],
        [{"tag": "text", "text": "and the old one:"}, {"tag": "img", "image_key": "img_v3_demo_chart"}],
    ]})
    emu.add_resource(ids["post"], "img_v3_demo_post", png(rgb=(0, 180, 120)), type="image",
                     content_type="image/png")
    emu.add_resource(ids["post"], "img_v3_demo_chart", png(), type="image", content_type="image/png")
    ids["media"] = emu.add_message("media", {"file_key": "file_v3_demo_video", "image_key": "img_v3_demo_cover",
                                             "file_name": "会议录像.mp4", "duration": 8000})
    emu.add_resource(ids["media"], "file_v3_demo_video", mp4(3 * 1024 * 1024 + 4321), content_type="video/mp4",
                     filename="会议录像.mp4")
    emu.add_resource(ids["media"], "img_v3_demo_cover", png(rgb=(240, 80, 40)), type="image",
                     content_type="image/png")
    ids["forward"] = emu.add_message("merge_forward", "Merged and Forwarded Message")
    emu.add_message("image", {"image_key": "img_v3_demo_forwarded"}, upper_message_id=ids["forward"])
    return emu, ids


def run_demo(folder: str, say: Callable[..., None] = print) -> None:
    """Lookups and downloads against the bundled emulators, each shown as the command a user
    would run against the real service; the files go to ``folder``."""
    emu, ids = sample_emulator()
    with emu:
        say("Started the bundled Feishu emulator at %s: offline, no credentials needed." % emu.url)
        say("It holds a chat with a text, an image, a file with a Chinese name, a post, a video and a")
        say("forwarded message. Each step shows the command you would run against the real Feishu.\n")
        with emu.client() as client:
            say("$ %s get --message-id %s" % (PROG, ids["post"]))
            post = client.get_message(ids["post"])
            say("  a %s message, %r, with %d image(s): %s\n" % (
                post.msg_type, post.content.get("title"), len(post.resources),
                ", ".join(r.file_key for r in post.resources)))
            say("$ cd %s && %s download --message-id %s --file-key file_v3_demo_report --type file --skip-existing" % (
                folder, PROG, ids["file"]))
            emit_result(client.download_resource(ids["file"], "file_v3_demo_report", "file", folder, checksum=True,
                                                 skip_existing=True))  # a second demo into one folder keeps it
            say("")
            for key in ("media", "post", "forward"):
                say("$ %s download-all --message-id %s --output-dir %s --skip-existing" % (PROG, ids[key], folder))
                failed = report_download_all(client, ids[key], folder, skip_existing=True)
                if key == "forward" and failed:
                    say("  (Feishu does not serve resources of forwarded messages: the refusal is reported per"
                        " resource, and the command would exit 1)")
                say("")
            page = _demo_export(client, folder, say)
        requests_seen = len(emu.requests)
    _demo_neighbours(folder, say)
    say("The Feishu emulator answered %d requests (one token for all of them). Files are in %s:"
        % (requests_seen, folder))
    for name in sorted(os.listdir(folder)):
        if os.path.isfile(os.path.join(folder, name)):
            say("  %-24s %10d bytes" % (name, os.path.getsize(os.path.join(folder, name))))
    say("\nNext, against the real Feishu: export FEISHU_APP_ID=cli_... FEISHU_APP_SECRET=... and run")
    say("  %s get --message-id om_...      (then download --message-id ... --file-key ... --type ...)" % PROG)
    say("\nThe exported chat, to read offline in a browser:\n  %s" % page)


def _demo_export(client: Any, folder: str, say: Callable[..., None]) -> str:
    """The whole sample chat exported into ``folder/chat-export`` (a rerun resumes it);
    the ``file://`` address of the page the export wrote."""
    target = os.path.join(folder, "chat-export")
    say("$ %s export --chat-id oc_emulator --output-dir %s" % (PROG, target))
    summary = client.export_chat("oc_emulator", target)
    say("  %d messages, %d files downloaded, %d already there, %d refused; the chat to read: index.html\n"
        % (summary.messages, summary.downloaded, summary.skipped, summary.refused))
    return pathlib.Path(os.path.abspath(os.path.join(target, "index.html"))).as_uri()


def _demo_neighbours(folder: str, say: Callable[..., None]) -> None:
    """The same client against the BOSS Hi gateway's dialect, and a DingTalk robot file."""
    from .testing.dingtalk import DingTalkEmulator

    with FeishuEmulator(dialect="bosshi") as hi, hi.client() as client:
        mid = hi.add_message("text", {"text": "来自 BOSS Hi 的消息"})
        say("$ FEISHU_PLATFORM=bosshi %s get --message-id %s" % (PROG, mid))
        message = client.get_message(mid)
        say("  a %s message from the BOSS Hi gateway's dialect: %r\n" % (message.msg_type, message.text))
    with DingTalkEmulator() as ding, ding.client() as dingtalk:
        ding.add_file("demo-download-code", png(rgb=(255, 200, 0)), content_type="image/png")
        say("$ cd %s && %s dingtalk-download --download-code demo-download-code --output ./" % (folder, PROG))
        emit_result(dingtalk.download("demo-download-code", folder, checksum=True))
        seen = [r.headers for r in ding.requests if r.kind == "file"]
        leaked = any(k.lower() in ("authorization", "x-acs-dingtalk-access-token") for h in seen for k in h)
        say("  (the object store that served it %s the access token)\n" % ("SAW" if leaked else "never saw"))
