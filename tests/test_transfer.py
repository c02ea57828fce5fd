"""The engine's I/O loop over fake answers (no socket): ``Transfer`` following ``Plan``."""
import io
import re

import requests
import urllib3

from feishu_msgres._files import Target
from feishu_msgres.download import DownloadSettings
from feishu_msgres.platforms import FEISHU
from feishu_msgres.ratelimit import Gate
from feishu_msgres.transfer import Source, Transfer

DATA = bytes(range(256)) * 4


class BreakingBody(io.BytesIO):
    """A body that resets after ``fail_after`` bytes (None: never)."""

    def __init__(self, data, fail_after):
        super().__init__(data)
        self.fail_after, self.sent = fail_after, 0

    def read(self, n=-1, *args, **kwargs):
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise urllib3.exceptions.ProtocolError("connection reset")
        n = len(self.getvalue()) if n is None or n < 0 else n
        if self.fail_after is not None:
            n = min(n, self.fail_after - self.sent)
        out = super().read(n)
        self.sent += len(out)
        return out


def answers(breaks_per_range):
    """open_response for DATA: every range (not the probe) breaks ``breaks_per_range`` times."""
    seen, asked = {}, []

    def open_response(headers):
        start, last = re.match(r"bytes=(\d+)-(\d*)", headers["Range"]).groups()
        start, end = int(start), min(len(DATA), int(last) + 1 if last else len(DATA))
        asked.append((start, end))
        fail = None
        if start and start % 100 == 10 and seen.get(start, 0) < breaks_per_range:
            seen[start] = seen.get(start, 0) + 1
            fail = 3  # three bytes, then a reset
        response = requests.Response()
        response.status_code = 206
        response.headers["Content-Range"] = "bytes %d-%d/%d" % (start, end - 1, len(DATA))
        response.headers["Content-Length"] = str(end - start)
        response.raw = BreakingBody(DATA[start:end], fail)
        return response

    return open_response, asked


def test_a_download_whose_every_range_breaks_twice_still_finishes():
    settings = DownloadSettings(probe_size=10, range_size=100, max_range_size=100, resume_tries=3,
                                chunk_size=1000, resume_backoff=0)
    open_response, asked = answers(breaks_per_range=2)
    out = io.BytesIO()
    result = Transfer(Source(open_response, "file_k", True, FEISHU, settings, Gate()), Target(out, False)).run()
    assert out.getvalue() == DATA and result.size == len(DATA)
    assert len(asked) > 2 * (len(DATA) // 100)  # every range broke and was resumed
