"""The download engine's decisions, one by one, without a socket (``download.Plan``)."""
import pytest
from requests.structures import CaseInsensitiveDict

import feishu_msgres as fm
from feishu_msgres.download import Break, DownloadSettings, Expect, Plan

KIB = 1024
SETTINGS = DownloadSettings(probe_size=100, range_size=1000, max_range_size=4000, resume_tries=3,
                            resume_backoff=0.5, chunk_size=10)


def headers(**values):
    return CaseInsensitiveDict({k.replace("_", "-"): v for k, v in values.items()})


def plan(ranged=True, total=None, offset=0):
    p = Plan("file_k", ranged, SETTINGS)
    p.total, p.offset = total, offset
    return p


def test_files_start_with_a_probe_and_images_with_a_plain_get():
    assert plan().first_headers() == {"Accept-Encoding": "identity", "Range": "bytes=0-99"}
    assert plan(ranged=False).first_headers() == {"Accept-Encoding": "identity"}


def test_resume_headers_ask_from_the_last_byte():
    assert plan(total=5000, offset=300).resume_headers(1000)["Range"] == "bytes=300-999"
    assert plan(total=5000, offset=300).resume_headers(None)["Range"] == "bytes=300-4999"
    assert plan(total=None, offset=300).resume_headers(None)["Range"] == "bytes=300-"
    p = plan(total=5000, offset=300)
    p.plain_only = True
    assert p.resume_headers(1000) == {"Accept-Encoding": "identity"}


@pytest.mark.parametrize("status, api_code, refused", [(416, None, True), (400, None, True), (400, 234001, False),
                                                        (200, None, False), (206, None, False)])
def test_a_server_that_cannot_do_ranges(status, api_code, refused):
    p = plan()
    assert p.refuses_range(status, api_code) is refused
    assert p.plain_only is refused
    if refused:  # and once plain, the next request goes without Range, and is not refused again
        assert "Range" not in p.first_headers() and p.refuses_range(416, None) is False


def test_an_image_never_counts_as_refusing_ranges():
    assert plan(ranged=False).refuses_range(416, None) is False


def test_the_probe_answer_tells_the_total():
    p = plan()
    expect = p.first_answer(206, headers(Content_Range="bytes 0-99/5000", Content_Length="100"))
    assert (p.total, expect.end, expect.skip, expect.whole) == (5000, 100, 0, False)
    p = plan()
    expect = p.first_answer(200, headers(Content_Length="42"))
    assert (p.total, expect.end, expect.whole) == (42, 42, True)
    p = plan()
    assert p.first_answer(200, headers()).end is None and p.total is None  # unsized: its end will tell


@pytest.mark.parametrize("content_range", ["bytes 0-99/*", "bytes 1-100/5000", "bytes 0-199/5000", "junk", None])
def test_a_probe_answer_that_does_not_add_up_is_an_integrity_error(content_range):
    with pytest.raises(fm.IntegrityError):
        plan().first_answer(206, headers(Content_Range=content_range) if content_range else headers())


def test_ranges_double_while_nothing_breaks_and_start_over_after_a_break():
    p = plan(total=100000, offset=100)
    ends = []
    for broke in (False, False, False, True, False):
        end = p.next_end()
        ends.append(end - p.offset)
        p.offset = end
        p.broke = broke
        p.range_done()
    assert ends == [1000, 2000, 4000, 4000, 1000]  # capped at max_range_size; a break starts over
    p = plan(total=1500, offset=1000)
    assert p.next_end() == 1500  # never past the total


def test_fixed_ranges_by_default_as_the_spec_asks():
    p = Plan("file_k", True, DownloadSettings(probe_size=100, range_size=1000, min_range_size=100))
    p.total, p.offset = 100000, 100
    for _ in range(4):
        p.offset = p.next_end()
        p.range_done()
    assert p.offset == 4100 and p.size == 1000


def test_a_range_refused_as_too_large_halves_the_ranges_for_good_down_to_the_floor():
    p = Plan("file_k", True, DownloadSettings(probe_size=100, range_size=1000, min_range_size=250))
    p.total, p.offset = 100000, 100
    assert p.too_large() and p.next_end() - p.offset == 500
    p.range_done()
    assert p.size == 500  # it does not grow back
    assert p.too_large() and p.size == 250
    assert not p.too_large()  # at the floor: the refusal is the answer
    plain = Plan("file_k", True, SETTINGS)
    plain.plain_only = True
    assert not plain.too_large()  # a server without ranges: nothing smaller to ask for


def test_a_resume_answer_206_must_match_what_was_asked():
    p = plan(total=5000, offset=300)
    expect = p.resume_answer(206, headers(Content_Range="bytes 300-999/5000"), 1000)
    assert (expect.skip, expect.end) == (0, 1000)
    expect = p.resume_answer(206, headers(Content_Range="bytes 300-499/5000"), 1000)
    assert expect.end == 500  # shorter than asked: fine, the rest is asked for next
    for bad in ("bytes 301-999/5000", "bytes 300-1999/5000", "bytes 300-999/6000"):
        with pytest.raises(fm.IntegrityError):
            p.resume_answer(206, headers(Content_Range=bad), 1000)


def test_a_resume_answer_200_is_read_from_zero_and_skipped():
    p = plan(total=5000, offset=300)
    expect = p.resume_answer(200, headers(Content_Length="5000"), 1000)
    assert (expect.skip, expect.end, expect.whole) == (300, 5000, True)
    with pytest.raises(fm.IntegrityError, match="size changed"):
        p.resume_answer(200, headers(Content_Length="4999"), 1000)
    with pytest.raises(fm.IntegrityError, match="unexpected HTTP 302"):
        p.resume_answer(302, headers(), 1000)


def test_take_skips_what_is_held_and_refuses_more_than_declared():
    p = plan(total=20, offset=5)
    expect = Expect(5, 20)
    assert p.take(b"abc", expect) == b"" and expect.skip == 2
    assert p.take(b"defgh", expect) == b"fgh" and p.offset == 8
    assert p.take(b"x" * 12, expect) == b"x" * 12 and p.offset == 20
    with pytest.raises(fm.IntegrityError, match="more than it declared"):
        p.take(b"!", expect)


def test_a_body_that_ends_short():
    p = plan(total=100, offset=40)
    with pytest.raises(Break, match="ended at byte 40 of 100"):
        p.body_ended(Expect(0, 100), framed=True)  # a Content-Length cut short: resume
    with pytest.raises(fm.IntegrityError, match="declared bytes up to 100"):
        p.body_ended(Expect(0, 100), framed=False)  # nothing framed it: the server's Content-Range lied
    p = plan(total=None, offset=77)
    p.body_ended(Expect(0, None), framed=False)
    assert p.total == 77  # an unsized body: its end is its size


def test_breaks_resume_at_once_then_back_off_then_give_up():
    p = plan(total=1000, offset=0)
    assert p.on_break(0, Break("reset")) == 0.0
    first = p.on_break(0, Break("reset"))  # no progress: the second try waits 0.25-0.5 s
    assert 0.25 <= first <= 0.5
    assert 0.5 <= p.on_break(0, Break("reset")) <= 1.0
    with pytest.raises(fm.TransportError, match="broke off 4 times in a row at byte 0 of 1000; last: reset"):
        p.on_break(0, Break("reset"))


def test_a_break_after_a_chunk_of_progress_counts_as_the_first():
    p = plan(total=1000, offset=0)
    for _ in range(3):
        p.on_break(p.offset, Break("reset"))
    p.offset = 50
    assert p.on_break(0, Break("reset")) == 0.0 and p.tries == 1  # it brought a whole chunk (10 bytes)
    p.answered_short(0, 1000)
    assert p.tries == 0 and p.broke


def test_answers_that_stay_tiny_give_ranges_up_for_one_plain_get():
    p = plan(total=100000, offset=100)
    for _ in range(8):
        before = p.offset
        p.offset += 60  # 60 bytes of the 1000 asked: tiny
        assert p.plain_only is False
        p.answered_short(before, before + 1000)
    assert p.plain_only and "Range" not in p.resume_headers(None)
    q = plan(total=100000, offset=100)
    for _ in range(20):  # half of what was asked each time is not tiny: ranges go on
        before = q.offset
        q.offset += 500
        q.answered_short(before, before + 1000)
    assert not q.plain_only


def test_settings_are_checked():
    with pytest.raises(fm.ConfigError):
        DownloadSettings(range_size=0)
    with pytest.raises(fm.ConfigError):
        DownloadSettings(range_size=2 * KIB, max_range_size=KIB)


def test_breaks_count_against_their_own_range_only():
    # each range starts with a clean count, as the engine always did: two breaks in every
    # range of a long download must not add up to a give-up
    p = plan(total=5000, offset=100)
    for _ in range(3):
        end = p.next_end()
        assert p.on_break(p.offset, Break("reset")) == 0.0
        p.on_break(p.offset, Break("reset"))
        p.offset = end
        p.range_done()
    assert p.tries == 2


def test_later_ranges_carry_if_range_and_a_change_is_caught():
    p = plan()
    p.first_answer(206, headers(Content_Range="bytes 0-99/5000", ETag='"v1"', Last_Modified="Mon, 23 Nov 2026"))
    assert p.resume_headers(1000)["If-Range"] == '"v1"'
    with pytest.raises(fm.ResourceChangedError, match='ETag "v1", now "v2"'):
        p.resume_answer(200, headers(Content_Length="5000", ETag='"v2"'), 1000)  # If-Range failed: all of v2
    with pytest.raises(fm.ResourceChangedError):  # a server that ignores If-Range: its 206 tells
        p.resume_answer(206, headers(Content_Range="bytes 100-999/5000", ETag='"v2"'), 1000)
    same = p.resume_answer(200, headers(Content_Length="5000", ETag='"v1"'), 1000)
    assert same.skip == p.offset and same.whole  # the same version, range ignored: read past what we have
    with pytest.raises(fm.ResourceChangedError):  # a 200 to If-Range without the validator: cannot be
        p.resume_answer(200, headers(Content_Length="5000"), 1000)  # taken for the same version
    p.resume_answer(206, headers(Content_Range="bytes 0-999/5000", ETag='"v1"', Last_Modified="Tue"), 1000)
    # the ETag decides: another node's date for the same content is no change
    weak = plan()
    weak.first_answer(206, headers(Content_Range="bytes 0-99/5000", ETag='W/"v1"', Last_Modified="Mon, 23 Nov 2026"))
    assert "If-Range" not in weak.resume_headers(1000)  # RFC 9110: no weak tag, no date beside a tag
    with pytest.raises(fm.ResourceChangedError):
        weak.resume_answer(206, headers(Content_Range="bytes 100-999/5000", ETag='W/"v2"'), 1000)
    dated = plan()
    dated.first_answer(206, headers(Content_Range="bytes 0-99/5000", Last_Modified="Mon, 23 Nov 2026"))
    assert dated.resume_headers(1000)["If-Range"] == "Mon, 23 Nov 2026"
    none = plan()
    none.first_answer(206, headers(Content_Range="bytes 0-99/5000"))
    assert "If-Range" not in none.resume_headers(1000)
