"""README.rst's "Progress bars" recipe, run as written against the emulator: with tqdm when
it is installed, else with a stand-in that checks the calls the recipe makes (tqdm is not a
dependency of the package or of its tests). Issue 15."""
import os
import re
import sys
import types

import pytest

from feishu_msgres.demo import sample_emulator

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, os.pardir, "README.rst")


def section(title):
    with open(README, encoding="utf-8") as f:
        text = f.read()
    match = re.search(r"^%s\n-+\n(.*?)(?=^\S[^\n]*\n-{3,}\n)" % re.escape(title), text, re.M | re.S)
    assert match, "README.rst has no section %r" % title
    return match.group(1)


def python_blocks(text):
    """The ``.. code-block:: python`` blocks of ``text``, dedented."""
    blocks = []
    for match in re.finditer(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text, re.M):
        lines = match.group(1).rstrip("\n").split("\n")
        blocks.append("\n".join(line[4:] for line in lines) + "\n")
    return blocks


class FakeTqdm:
    """The part of tqdm's API the recipe may use, strict about what it is given."""

    made = []

    def __init__(self, iterable=None, desc=None, total=None, unit="it", unit_scale=False, unit_divisor=1000):
        self.desc, self.total, self.unit = desc, total, unit
        self.n = 0
        self.postfix = ""
        self.closed = False
        self.resets = []
        FakeTqdm.made.append(self)

    def update(self, n=1):
        assert isinstance(n, int) and not self.closed
        self.n += n

    def reset(self, total=None):
        self.resets.append(total)
        self.n, self.total = 0, total

    def set_postfix_str(self, s="", refresh=True):
        self.postfix = s

    def close(self):
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def tqdm_modules(monkeypatch):
    """The real tqdm if installed; else FakeTqdm as ``tqdm`` and ``tqdm.auto``."""
    try:
        import tqdm  # noqa: F401
        import tqdm.auto  # noqa: F401
        return True
    except ImportError:
        package = types.ModuleType("tqdm")
        package.tqdm = FakeTqdm
        auto = types.ModuleType("tqdm.auto")
        auto.tqdm = FakeTqdm
        package.auto = auto
        monkeypatch.setitem(sys.modules, "tqdm", package)
        monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
        FakeTqdm.made = []
        return False


@pytest.fixture
def chat(tmp_path, monkeypatch):
    monkeypatch.chdir(str(tmp_path))
    emu, ids = sample_emulator()
    with emu:
        with emu.client() as client:
            yield client, ids


def run(block, namespace):
    exec(compile(block, "README.rst, Progress bars", "exec"), namespace)
    return namespace


def test_the_readme_gives_three_progress_recipes():
    blocks = python_blocks(section("Progress bars"))
    assert len(blocks) == 3
    assert "from tqdm import tqdm" in blocks[0] and "download_resource" in blocks[0]
    assert "export_chat" in blocks[1] and "progress=progress" in blocks[1]
    assert "from tqdm.auto import tqdm" in blocks[2]


def test_the_download_bar_counts_every_byte(chat, tqdm_modules):
    client, ids = chat
    block = python_blocks(section("Progress bars"))[0]
    ns = run(block, {"client": client, "message_id": ids["media"], "file_key": "file_v3_demo_video"})
    result, bar = ns["result"], ns["bar"]
    assert result.size > 3000000 and os.path.getsize(result.path) == result.size
    assert os.path.abspath(os.path.dirname(result.path)) == os.path.abspath("downloads")
    assert bar.n == bar.total == result.size
    if not tqdm_modules:
        assert bar.resets == [result.size] and bar.closed and bar.desc == "file_v3_demo_video"


def test_the_export_bar_counts_bytes_and_files(chat, tqdm_modules):
    client, ids = chat
    block = python_blocks(section("Progress bars"))[1]
    ns = run(block, {"client": client, "chat_id": "oc_emulator"})
    summary, bar = ns["summary"], ns["bar"]
    assert summary.downloaded >= 5 and summary.failed == 0
    assert bar.n == summary.bytes > 3000000
    if not tqdm_modules:
        assert bar.postfix == "%d files, 0 skipped, 0 failed, 0 to go" % summary.downloaded


def test_the_notebook_helper_downloads_a_messages_resources(chat, tqdm_modules):
    client, ids = chat
    block = python_blocks(section("Progress bars"))[2]
    run(block, {"client": client, "message_id": ids["post"]})
    assert sorted(os.listdir("downloads")) == ["img_v3_demo_chart.png", "img_v3_demo_post.png"]
    if not tqdm_modules:
        bars = FakeTqdm.made
        assert [b.desc for b in bars] == ["img_v3_demo_post", "img_v3_demo_chart"]
        assert all(b.closed and b.n == b.total == os.path.getsize(os.path.join("downloads", b.desc + ".png"))
                   for b in bars)
