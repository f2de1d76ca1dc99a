"""Display helpers and paging arithmetic."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from master.web.formatting import ago, card_value, filesize, iso, num, sexagesimal, utc
from master.web.queries import Page

NOW = datetime(2024, 1, 5, 22, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("seconds,text", [
    (0, "0 s ago"), (12, "12 s ago"), (59, "59 s ago"), (60, "1 min ago"), (3599, "59 min ago"),
    (3600, "1 h ago"), (86399, "23 h ago"), (2 * 86400 + 5, "2 d ago"), (-30, "in the future"),
])
def test_ago(seconds, text):
    assert ago(NOW - timedelta(seconds=seconds), now=NOW) == text


def test_ago_takes_naive_times_as_utc():
    assert ago(None) == "never"
    assert ago(datetime(2024, 1, 5, 21, 59, 50), now=NOW) == "10 s ago"
    assert ago(datetime.now(timezone.utc)).endswith("s ago")


def test_time_formats():
    assert utc(None) == "" and iso(None) is None
    assert utc(datetime(2024, 1, 5, 23, 30, tzinfo=timezone(timedelta(hours=1)))) == "2024-01-05 22:30:00"
    assert iso(datetime(2024, 1, 5, 22, 0)) == "2024-01-05T22:00:00+00:00"
    assert iso(date(2024, 1, 5)) == "2024-01-05"


@pytest.mark.parametrize("size,text", [
    (None, "—"), (0, "0 B"), (1023, "1023 B"), (2880, "2.8 KB"), (50 * 2**20, "50.0 MB"),
    (3 * 2**30, "3.0 GB"), (5 * 2**40, "5.0 TB"), (2**60, "1048576.0 TB"),
])
def test_filesize(size, text):
    assert filesize(size) == text


@pytest.mark.parametrize("degrees,hours,text", [
    (10.6847, True, "00:42:44.3"), (41.269, False, "+41:16:08.4"), (-5.391, False, "-05:23:27.6"),
    (359.99999, True, "00:00:00.0"), (29.99999, False, "+30:00:00.0"), (None, False, "—"),
])
def test_sexagesimal(degrees, hours, text):
    assert sexagesimal(degrees, hours=hours) == text


def test_num_and_card_value():
    assert num(None) == "—" and num(2.5) == "2.5" and num(2.3456, "{:.2f}") == "2.35"
    assert num("n/a", "{:.2f}") == "n/a"
    assert [card_value(v) for v in (None, True, False, 0, 1.5, "x")] == ["", "T", "F", "0", "1.5", "x"]


@pytest.mark.parametrize("page,pages,shown", [
    (1, 1, [1]), (1, 3, [1, 2, 3]), (1, 20, [1, 2, 3, None, 20]), (10, 20, [1, None, 8, 9, 10, 11, 12, None, 20]),
    (20, 20, [1, None, 18, 19, 20]), (4, 20, [1, 2, 3, 4, 5, 6, None, 20]),
])
def test_page_numbers(page, pages, shown):
    assert Page([], page, 10, pages * 10).numbers() == shown


def test_empty_page_counts_as_one():
    assert Page([], 1, 50, 0).pages == 1
