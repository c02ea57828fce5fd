"""Download benchmark: feishu_msgres against a plain requests loop (and lark-oapi if installed).

    python bench/bench_download.py [--size-mb 100] [--rounds 5]

Starts the emulator in its own process with one resource of --size-mb, then runs each
contender in a fresh process, round after round in alternating order, and prints the median
wall time and peak RSS of each, side by side with the baseline (a plain ``requests`` streaming
loop, the code a user would write by hand). Every run writes a new file on tmpfs (/dev/shm
where there is one) and removes it, so disk writeback does not drown the figures. Then it
times ``import feishu_msgres`` against ``import requests`` the same way. The package's
bytecode is written first, as pip writes it on install.

Targets (issue 12; default settings): a path within 1.15x of the baseline and no slower than
the plain 8 MiB-range loop, a file object within 1.10x, with checksum within 1.25x; peak RSS
under 40 MiB; import within 1.2x of ``import requests``.

``--other-tree DIR`` adds the same contenders for the package in another checkout (say a
``git worktree`` of the last release), in the same alternating rounds, so a change is
measured against what it replaces on the same machine at the same time.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
APP_ID, APP_SECRET, FILE_KEY = "cli_bench", "bench-secret", "file_bench"

# Each contender runs as: python bench_download.py --run NAME URL MESSAGE_ID PATH
CONTENDERS = ["requests loop (baseline)", "requests 8 MiB ranges", "feishu_msgres -> path",
              "feishu_msgres -> file object", "feishu_msgres -> path, checksum", "lark-oapi"]
RANGE = 8 * 1024 * 1024


def serve(size_mb: int) -> None:
    """The emulator process: prints its URL and message id, serves until stdin closes."""
    from feishu_msgres.testing import FeishuEmulator

    data = os.urandom(size_mb * 1024 * 1024)
    with FeishuEmulator(app_id=APP_ID, app_secret=APP_SECRET) as emu:
        mid = emu.add_message("file", {"file_key": FILE_KEY, "file_name": "bench.bin"})
        emu.add_resource(mid, FILE_KEY, data, filename="bench.bin")
        print(json.dumps({"url": emu.url, "message_id": mid}), flush=True)
        sys.stdin.read()


def load_tree(tree: str) -> None:
    """Make ``import feishu_msgres`` load the package of checkout ``tree``, whatever is installed."""
    import importlib.util

    init = os.path.join(tree, "feishu_msgres", "__init__.py")
    spec = importlib.util.spec_from_file_location("feishu_msgres", init,
                                                  submodule_search_locations=[os.path.dirname(init)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["feishu_msgres"] = module
    spec.loader.exec_module(module)


def run_one(name: str, url: str, mid: str, path: str) -> None:
    """One measured download in this (fresh) process; prints wall seconds and peak RSS."""
    import resource

    # Imports stay out of the timed part: they are measured on their own below.
    import requests

    if " @ " in name:  # "feishu_msgres -> path @ /other/tree"
        load_tree(name.split(" @ ", 1)[1])
    if name.startswith("feishu_msgres"):
        import feishu_msgres
        import feishu_msgres.resources  # noqa: F401 - the download front, loaded on first use: not timed here
    elif name == "lark-oapi":
        import lark_oapi as lark
        from lark_oapi.api.im.v1 import GetMessageResourceRequest

    started = time.perf_counter()
    if name == "requests loop (baseline)":
        with requests.Session() as session:
            token = session.post(url + "/open-apis/auth/v3/tenant_access_token/internal",
                                 json={"app_id": APP_ID, "app_secret": APP_SECRET}).json()["tenant_access_token"]
            with session.get("%s/open-apis/im/v1/messages/%s/resources/%s" % (url, mid, FILE_KEY),
                             params={"type": "file"}, headers={"Authorization": "Bearer " + token},
                             stream=True) as response:
                response.raise_for_status()
                with open(path, "wb") as out:
                    for chunk in response.iter_content(1024 * 1024):
                        out.write(chunk)
    elif name == "requests 8 MiB ranges":  # the floor for a client that follows seed 002 by hand
        with requests.Session() as session:
            token = session.post(url + "/open-apis/auth/v3/tenant_access_token/internal",
                                 json={"app_id": APP_ID, "app_secret": APP_SECRET}).json()["tenant_access_token"]
            address = "%s/open-apis/im/v1/messages/%s/resources/%s" % (url, mid, FILE_KEY)
            with open(path, "wb") as out:
                start, total = 0, None
                while total is None or start < total:
                    end = min(start + (128 * 1024 if total is None else RANGE), total or 1 << 62) - 1
                    with session.get(address, params={"type": "file"}, stream=True, headers={
                            "Authorization": "Bearer " + token, "Range": "bytes=%d-%d" % (start, end)}) as response:
                        response.raise_for_status()
                        total = int(response.headers["Content-Range"].rsplit("/", 1)[1])
                        for chunk in response.iter_content(1024 * 1024):
                            out.write(chunk)
                            start += len(chunk)
    elif name.startswith("feishu_msgres"):
        with feishu_msgres.Client(APP_ID, APP_SECRET, base_url=url) as client:
            if " -> file object" in name:
                with open(path, "wb") as out:
                    client.download_resource(mid, FILE_KEY, "file", out)
            else:
                client.download_resource(mid, FILE_KEY, "file", path, checksum=", checksum" in name)
    elif name == "lark-oapi":
        client = lark.Client.builder().app_id(APP_ID).app_secret(APP_SECRET).domain(url) \
            .log_level(lark.LogLevel.ERROR).build()
        request = GetMessageResourceRequest.builder().message_id(mid).file_key(FILE_KEY).type("file").build()
        response = client.im.v1.message_resource.get(request)
        if not response.success():
            raise SystemExit("lark-oapi failed: %s %s" % (response.code, response.msg))
        with open(path, "wb") as out:
            out.write(response.file.read())
    wall = time.perf_counter() - started
    size = os.path.getsize(path)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"wall": wall, "rss_mib": peak_kib / 1024.0, "size": size}))


# load_tree in one line, for a fresh ``python -c`` that times the import of another checkout
_LOAD_TREE = ("import importlib.util, sys; s = importlib.util.spec_from_file_location('feishu_msgres', %r, "
              "submodule_search_locations=[%r]); m = importlib.util.module_from_spec(s); "
              "sys.modules['feishu_msgres'] = m; s.loader.exec_module(m)")


def time_import(module: str, tree: Optional[str] = None) -> float:
    """Seconds to import ``module`` in a fresh process (``feishu_msgres+``: with the download
    front, which loads on the first download)."""
    front = module.endswith("+")
    module = module.rstrip("+")
    if tree:
        package = os.path.join(tree, "feishu_msgres")
        statement = _LOAD_TREE % (os.path.join(package, "__init__.py"), package)
    else:
        statement = "import " + module
    if front:
        statement += "; import feishu_msgres.resources"
    code = "import time; t = time.perf_counter(); %s; print(time.perf_counter() - t)" % statement
    return float(subprocess.check_output([sys.executable, "-c", code]).decode())


def installed_like(trees: List[str]) -> None:
    """Measure packages as pip leaves them: with their bytecode written. Run from a checkout
    with PYTHONDONTWRITEBYTECODE set, each import would compile every module again, a cost
    no installed copy pays (and requests, installed, does not pay here)."""
    import compileall

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the children inherit this
    for tree in trees:
        compileall.compile_dir(os.path.join(tree, "feishu_msgres"), quiet=1)


def have(module: str) -> bool:
    return subprocess.call([sys.executable, "-c", "import " + module],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--import-rounds", type=int, default=30)
    parser.add_argument("--other-tree", help="also measure the package of this checkout")
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="measure only the baseline and contenders whose name holds TEXT (repeatable)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.size_mb)
    if args.run:
        return run_one(*args.run)

    contenders = [c for c in CONTENDERS if c != "lark-oapi" or have("lark_oapi")]
    if args.only:
        contenders = contenders[:1] + [c for c in contenders[1:] if any(t in c for t in args.only)]
    installed_like([os.path.dirname(HERE)] + ([args.other_tree] if args.other_tree else []))
    if args.other_tree:
        # both packages loaded the same way, from their trees (not one installed, one not)
        other, ours = os.path.abspath(args.other_tree), os.path.dirname(HERE)
        mine = [c for c in contenders if c.startswith("feishu_msgres")]
        contenders = [c if c not in mine else "%s @ %s" % (c, ours) for c in contenders]
        contenders += ["%s @ %s" % (c, other) for c in mine]
    folder = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--size-mb", str(args.size_mb)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        info = json.loads(server.stdout.readline().decode())  # type: ignore[union-attr]
        results = {c: [] for c in contenders}  # type: dict
        for round_no in range(args.rounds):
            order = contenders if round_no % 2 == 0 else contenders[::-1]
            for name in order:
                path = os.path.join(folder, "bench-%d-%d.bin" % (os.getpid(), time.monotonic_ns()))
                try:
                    out = subprocess.check_output([sys.executable, __file__, "--run", name, info["url"],
                                                   info["message_id"], path])
                finally:
                    if os.path.exists(path):
                        os.unlink(path)
                result = json.loads(out.decode().strip().splitlines()[-1])
                assert result["size"] == args.size_mb * 1024 * 1024, result
                results[name].append(result)
    finally:
        server.stdin.close()  # type: ignore[union-attr]
        server.wait()

    print("Download of %d MiB from the emulator on loopback, to %s; median of %d alternating runs"
          % (args.size_mb, folder, args.rounds))
    print("%-34s %10s %9s %12s" % ("", "wall (s)", "vs base", "peak RSS"))
    if args.other_tree:
        print("(@ %s: the other checkout's package)" % other)
    base = statistics.median(r["wall"] for r in results[contenders[0]])
    for name in contenders:
        wall = statistics.median(r["wall"] for r in results[name])
        rss = statistics.median(r["rss_mib"] for r in results[name])
        label = name.split(" @ ")[0] + (" @other" if args.other_tree and name.endswith(other) else "")
        print("%-34s %10.3f %8.2fx %8.1f MiB" % (label, wall, wall / base, rss))

    if args.only or not args.import_rounds:
        return  # a part of the figures: no verdict on the targets
    imports = {"requests": [], "feishu_msgres": [], "feishu_msgres+": []}  # type: dict
    if args.other_tree:
        imports["feishu_msgres @other"] = []
        imports["feishu_msgres+ @other"] = []
    if "lark-oapi" in contenders:
        imports["lark_oapi"] = []
    for _ in range(args.import_rounds):
        for module in imports:
            # with another checkout, both are loaded the same way, from their trees
            tree = (other if module.endswith("@other") else os.path.dirname(HERE)) \
                if args.other_tree and module.startswith("feishu") else None
            imports[module].append(time_import(module.split(" ")[0], tree))
    req, ours = (statistics.median(imports[m]) for m in ("requests", "feishu_msgres"))
    print("\nImport, median of %d fresh processes each (alternating)" % args.import_rounds)
    print("%-34s %10.1f ms" % ("import requests (baseline)", req * 1000))
    for module in list(imports)[1:]:
        took = statistics.median(imports[module])
        label = "import " + module.replace("+", " + download front")
        print("%-34s %10.1f ms %8.2fx" % (label, took * 1000, took / req))

    def ratio(kind: str) -> float:
        name = next(n for n in contenders if n.startswith("feishu_msgres -> " + kind)
                    and (kind.endswith("checksum") or "checksum" not in n))
        return statistics.median(r["wall"] for r in results[name]) / base

    ranged = statistics.median(r["wall"] for r in results["requests 8 MiB ranges"]) / base
    rss = max(statistics.median(r["rss_mib"] for r in results[n]) for n in contenders
              if n.startswith("feishu") and not (args.other_tree and n.endswith(other)))
    path, fileobj, summed = ratio("path"), ratio("file object"), ratio("path, checksum")
    print("\nTargets: path %.2fx <= 1.15x: %s; path <= 8 MiB loop (%.2fx): %s; file object %.2fx <= 1.10x: %s;"
          % (path, _ok(path <= 1.15), ranged, _ok(path <= ranged), fileobj, _ok(fileobj <= 1.10)))
    print("         checksum %.2fx <= 1.25x: %s; peak RSS %.1f MiB < 40 MiB: %s; import %.2fx <= 1.2x: %s"
          % (summed, _ok(summed <= 1.25), rss, _ok(rss < 40), ours / req, _ok(ours / req <= 1.2)))


def _ok(flag: bool) -> str:
    return "met" if flag else "MISSED"


if __name__ == "__main__":
    main()
