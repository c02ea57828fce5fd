"""Export benchmark: concurrency against a distant server, and the rate limit under load.

    python bench/bench_export.py [--attachments 60] [--latency 0.1] [--rounds 3]

1. A chat of --attachments attachments on an emulator that waits --latency seconds before
   every answer; export_chat with 4 workers against 1 worker, alternating, medians.
   Target: 4 workers take at most 0.35x the wall time of 1.
2. The same with 16 workers, no latency and more attachments: the largest number of
   requests the emulator saw in any one-second window. Target: at most 50 (Feishu's limit).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time

from feishu_msgres.testing import FeishuEmulator


def chat(emu: FeishuEmulator, attachments: int) -> None:
    for n in range(attachments):
        if n % 2:
            mid = emu.add_message("image", {"image_key": "img_%d" % n}, create_time=1700000000000 + n)
            emu.add_resource(mid, "img_%d" % n, bytes([n % 256]) * 64 * 1024, type="image", content_type="image/png")
        else:
            mid = emu.add_message("file", {"file_key": "file_%d" % n, "file_name": "f%d.pdf" % n},
                                  create_time=1700000000000 + n)
            emu.add_resource(mid, "file_%d" % n, bytes([n % 256]) * 96 * 1024, content_type="application/pdf",
                             filename="f%d.pdf" % n)


def export_once(emu: FeishuEmulator, workers: int) -> float:
    folder = tempfile.mkdtemp(prefix="bench-export-")
    try:
        with emu.client() as client:
            started = time.perf_counter()
            summary = client.export_chat("oc_emulator", folder, workers=workers)
            wall = time.perf_counter() - started
        assert summary.failed == 0 and summary.downloaded > 0, summary
        return wall
    finally:
        shutil.rmtree(folder)


def busiest_second(emu: FeishuEmulator) -> int:
    times = sorted(r.time for r in emu.requests if r.kind in ("list", "message", "resource"))
    worst, lo = 0, 0
    for hi, t in enumerate(times):  # two pointers over sorted times: every window [t - 1 s, t]
        while times[lo] <= t - 1.0:
            lo += 1
        worst = max(worst, hi - lo + 1)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attachments", type=int, default=60)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--load-attachments", type=int, default=400)
    args = parser.parse_args()

    with FeishuEmulator() as emu:
        chat(emu, args.attachments)
        emu.latency = args.latency
        walls = {1: [], 4: []}  # type: dict
        for round_no in range(args.rounds):
            for workers in ((1, 4) if round_no % 2 == 0 else (4, 1)):
                walls[workers].append(export_once(emu, workers))
    one, four = statistics.median(walls[1]), statistics.median(walls[4])
    print("Export of a chat with %d attachments, %.0f ms latency per request; median of %d alternating runs"
          % (args.attachments, args.latency * 1000, args.rounds))
    print("%-12s %10s %9s" % ("workers", "wall (s)", "vs 1"))
    print("%-12s %10.2f %8.2fx" % ("1 (baseline)", one, 1.0))
    print("%-12s %10.2f %8.2fx" % ("4", four, four / one))

    with FeishuEmulator() as emu:
        chat(emu, args.load_attachments)
        started = time.perf_counter()
        export_once(emu, 16)
        wall = time.perf_counter() - started
        worst = busiest_second(emu)
        total = sum(1 for r in emu.requests if r.kind in ("list", "message", "resource"))
    print("\n16 workers, no latency, %d attachments: %d requests in %.1f s; busiest one-second window: %d"
          % (args.load_attachments, total, wall, worst))
    print("\nTargets: 4 workers %.2fx <= 0.35x: %s; busiest second %d <= 50: %s"
          % (four / one, "met" if four / one <= 0.35 else "MISSED", worst, "met" if worst <= 50 else "MISSED"))


if __name__ == "__main__":
    main()
