import pytest
from hypothesis import given
from hypothesis import strategies as st

import feishu_msgres as fm
from feishu_msgres._ranges import ContentRange, check_content_range, next_range, parse_content_range, range_header


def test_range_header():
    assert range_header(0, 131072) == "bytes=0-131071"
    assert range_header(5) == "bytes=5-"
    with pytest.raises(ValueError):
        range_header(5, 5)
    with pytest.raises(ValueError):
        range_header(-1, 5)


@pytest.mark.parametrize(
    "value, parsed",
    [
        ("bytes 0-99/1000", ContentRange(0, 100, 1000)),
        ("BYTES 0-0/1", ContentRange(0, 1, 1)),
        ("bytes 900-999/1000", ContentRange(900, 1000, 1000)),
        ("bytes 0-99/*", ContentRange(0, 100, None)),
        ("bytes */1000", ContentRange(None, None, 1000)),
        ("bytes */*", None),
        ("bytes 100-99/1000", None),  # last before first
        ("bytes 0-1000/1000", None),  # past the total
        ("bytes 0-99", None),
        ("items 0-99/1000", None),
        ("bytes -5-99/1000", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_content_range(value, parsed):
    assert parse_content_range(value) == parsed


@given(st.integers(0, 10**12), st.integers(1, 10**9), st.integers(0, 10**9))
def test_parse_content_range_round_trips(start, length, extra):
    end = start + length
    total = end + extra
    parsed = parse_content_range("bytes %d-%d/%d" % (start, end - 1, total))
    assert parsed == ContentRange(start, end, total)
    assert parsed.length == length


@given(st.text(max_size=60))
def test_parse_content_range_never_raises(text):
    parsed = parse_content_range(text)
    if parsed is not None and parsed.start is not None:
        assert parsed.start < parsed.end
        assert parsed.total is None or parsed.end <= parsed.total


@given(st.integers(1, 10**9), st.integers(1, 10**8), st.integers(1, 10**8))
def test_planned_ranges_cover_the_total_exactly_once(total, size, first):
    # the probe takes [0, first), then ranges of at most `size` follow back to back
    offset = min(first, total)
    pieces = [(0, offset)]
    while offset < total:
        start, end = next_range(offset, total, size)
        assert start == offset and 0 < end - start <= size and end <= total
        pieces.append((start, end))
        offset = end
        if len(pieces) > 200:  # enough to show the shape; huge totals with tiny sizes stop here
            return
    assert pieces[-1][1] == total
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))


def test_next_range_refuses_nonsense():
    with pytest.raises(ValueError):
        next_range(10, 10, 5)
    with pytest.raises(ValueError):
        next_range(0, 10, 0)


def test_check_content_range_accepts_a_good_answer():
    assert check_content_range("bytes 100-199/1000", (100, 200), 1000, 100) == ContentRange(100, 200, 1000)
    # shorter than asked is allowed; the next range starts where it ended
    assert check_content_range("bytes 100-149/1000", (100, 200), None, None).end == 150


@pytest.mark.parametrize(
    "header, asked, total, length, message",
    [
        ("bytes 101-199/1000", (100, 200), 1000, None, "from 100"),
        ("bytes 100-299/1000", (100, 200), 1000, None, "up to 199"),
        ("bytes 100-199/2000", (100, 200), 1000, None, "total changed"),
        ("bytes 100-199/1000", (100, 200), 1000, 150, "Content-Length 150 disagrees"),
        ("garbage", (100, 200), 1000, None, "unusable"),
        (None, (100, 200), 1000, None, "unusable"),
        ("bytes */1000", (100, 200), 1000, None, "unusable"),
    ],
)
def test_check_content_range_refuses(header, asked, total, length, message):
    with pytest.raises(fm.IntegrityError, match=message):
        check_content_range(header, asked, total, length)
