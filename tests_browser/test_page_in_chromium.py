"""The export's index.html in a real headless Chromium, from file:// (issue 16): every image
loads, no script runs, and hostile messages show as plain text.

Needs Debian's chromium and chromium-driver (``.ci/run`` installs them) and selenium
(``tox -e browser``)."""
import os
import pathlib

import pytest

from feishu_msgres.demo import png
from feishu_msgres.testing import FeishuEmulator

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCRIPT = "<script>window.pwned=1</script>"
ONERROR = "<img src=x onerror=window.pwned=1>"


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def _hostile(emu, chat_id, start_ms):
    emu.add_message("text", {"text": SCRIPT}, chat_id=chat_id, create_time=start_ms + 1)
    emu.add_message("post", {"title": ONERROR, "content": [[
        {"tag": "a", "text": "click me", "href": "javascript:alert(1)"},
        {"tag": "text", "text": " and " + ONERROR},
        {"tag": "a", "href": "javascript:window.pwned=1"},
    ]]}, chat_id=chat_id, create_time=start_ms + 2)
    mid = emu.add_message("image", {"image_key": "img_hostile"}, chat_id=chat_id, create_time=start_ms + 3,
                          sender_id='ou_"><script>window.pwned=1</script>')
    emu.add_resource(mid, "img_hostile", png(rgb=(200, 0, 0)), type="image", content_type="image/png",
                     filename='"><img src=x onerror=window.pwned=1>.png')
    mid = emu.add_message("file", {"file_key": "file_hostile", "file_name": ONERROR}, chat_id=chat_id,
                          create_time=start_ms + 4)
    emu.add_resource(mid, "file_hostile", b"plain bytes", content_type="text/html", filename=ONERROR + ".html")


def _real_images(emu):
    """The realistic chat's images are random bytes: real PNGs instead, so that they can load."""
    for (mid, key), res in list(emu._resources.items()):
        if res["type"] == "image":
            emu.replace_resource(mid, key, png(rgb=(len(key) % 256, 90, 160)))


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    start_ms = 1701385200000  # 2023-11-30 23:00 UTC: the chat runs into December, so there are month pages
    with FeishuEmulator() as emu:
        emu.add_realistic_chat("oc_browser", n=160, seed=3, start_ms=start_ms)
        _hostile(emu, "oc_browser", start_ms)
        _real_images(emu)
        with emu.client() as client:
            summary = client.export_chat("oc_browser", str(folder))
    assert summary.downloaded > 0
    return folder


def _pages(folder):
    return sorted(p for p in folder.iterdir() if p.suffix == ".html")


def test_the_chat_spans_months_and_every_page_is_written(export):
    names = [p.name for p in _pages(export)]
    assert "index.html" in names and len(names) >= 3, names


def test_every_image_loads_from_file_urls(browser, export):
    seen = 0
    for path in _pages(export):
        browser.get(path.as_uri())
        widths = browser.execute_script(
            "return Array.from(document.images).map(function (i) { return [i.src, i.complete, i.naturalWidth]; })")
        for src, _complete, width in widths:
            assert src.startswith("file://") and width > 0, (path.name, src)
        seen += len(widths)
    assert seen > 10


def test_no_script_runs_and_hostile_content_shows_as_text(browser, export):
    texts = []
    for path in _pages(export):
        browser.get(path.as_uri())
        assert browser.execute_script("return typeof window.pwned") == "undefined", path.name
        assert browser.find_elements(By.TAG_NAME, "script") == []
        hrefs = [a.get_attribute("href") or "" for a in browser.find_elements(By.TAG_NAME, "a")]
        assert all(h.startswith("file://") for h in hrefs), hrefs
        texts.append(browser.find_element(By.TAG_NAME, "body").text)
    text = "\n".join(texts)
    saved_name = "img src=x onerror=window.pwned=1_.html"  # the file's name, made safe to save
    for hostile in (SCRIPT, ONERROR, "javascript:alert(1)", "javascript:window.pwned=1", saved_name,
                    'ou_"><script>window.pwned=1</script>'):
        assert hostile in text, hostile


def test_recalled_and_refused_are_marked(browser, export):
    text = "\n".join(_visit(browser, p) for p in _pages(export))
    assert "recalled" in text and "refused (code" in text


def _visit(browser, path):
    browser.get(pathlib.Path(path).as_uri())
    return browser.find_element(By.TAG_NAME, "body").text
