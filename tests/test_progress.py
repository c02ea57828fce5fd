"""The command's progress bars: honest rates, the last frame, the real counts (issue 15)."""
import io

from feishu_msgres.cli.output import ExportBar, ProgressBar
from feishu_msgres.exportclient import ExportProgress


def test_the_first_frame_shows_no_rate_rather_than_a_false_one(monkeypatch):
    import feishu_msgres.cli.output as output

    now = [100.0]
    monkeypatch.setattr(output.time, "monotonic", lambda: now[0])
    out = io.StringIO()
    bar = ProgressBar("report.pdf", out)
    now[0] += 0.000001
    bar(1024 * 1024, 100 * 1024 * 1024)  # 1 MiB in a microsecond: 16 GiB/s if believed
    assert "GiB/s" not in out.getvalue() and "…" in out.getvalue() and "report.pdf" in out.getvalue()
    now[0] += 1.0
    bar(11 * 1024 * 1024, 100 * 1024 * 1024)
    assert "10.0 MiB/s" in out.getvalue().split("\r")[-1]  # from the first bytes on


def test_the_last_frame_held_back_by_the_throttle_is_shown_on_close():
    out = io.StringIO()
    bar = ProgressBar("x", out)
    bar(10, None)
    bar(20, None)  # within 0.1 s: held back
    bar.close()
    assert "20 B" in out.getvalue().split("\r")[-1]


def test_the_export_bar_ends_on_the_real_counts():
    out = io.StringIO()
    bar = ExportBar(out)
    bar(ExportProgress(messages=0, skipped=1))
    bar(ExportProgress(messages=0, skipped=5, refused=1))  # held back by the throttle
    bar.close()
    last = out.getvalue().split("\r")[-1]
    assert "5 skipped" in last and "1 refused" in last


def test_a_resumed_export_reports_its_skips(emu, emu_client, tmp_path):
    for n in range(3):
        mid = emu.add_message("file", {"file_key": "file_%d" % n}, create_time=(1700000000 + n) * 1000)
        emu.add_resource(mid, "file_%d" % n, b"x" * 10)
    emu_client.export_chat("oc_emulator", tmp_path)
    seen = []
    emu_client.export_chat("oc_emulator", tmp_path, start_time=1700000000, progress=seen.append)
    assert seen and seen[-1].skipped == 3  # another window lists them all: every one skipped, and said
