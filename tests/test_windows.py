"""The window vocabulary: Nd, all and range, parsed, measured and named in one place."""

from __future__ import annotations

from datetime import date

import pytest

from app.windows import (
    ALL,
    MAX_DAYS,
    RANGE,
    WindowError,
    days_window,
    describe_previous_window,
    parse_window,
    window_days,
    window_label,
    window_title,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("30d", "30d"), ("1d", "1d"), ("90d", "90d"), (f"{MAX_DAYS}d", f"{MAX_DAYS}d"),
    ("all", ALL), ("ALL", ALL), (" 30D ", "30d"), ("\t7d\n", "7d"), ("030d", "30d"),
])
def test_valid_windows_are_normalised(raw, expected):
    assert parse_window(raw) == expected


@pytest.mark.parametrize(("raw", "reason"), [
    ("0d", "at least 1d"),
    ("000d", "at least 1d"),
    ("-3d", "like 30d"),
    ("d", "like 30d"),
    ("30", "like 30d"),
    ("30days", "like 30d"),
    ("30 d", "like 30d"),
    ("3.5d", "like 30d"),
    ("+3d", "like 30d"),
    ("", "like 30d"),
    ("range", "like 30d"),  # from/to make a range; it is never typed
    ("１d", "like 30d"),
    ("３０d", "like 30d"),  # fullwidth digits, which int() would read as 30
    ("٣٠d", "like 30d"),  # Arabic-Indic digits
    ("30d\x00", "like 30d"),
    (f"{MAX_DAYS + 1}d", f"at most {MAX_DAYS}d"),
    ("99999999d", f"at most {MAX_DAYS}d"),
    ("9" * 5000 + "d", f"at most {MAX_DAYS}d"),  # past int()'s 4300-digit limit
])
def test_invalid_windows_name_the_field_and_the_reason(raw, reason):
    with pytest.raises(WindowError, match=f"^window: must be {reason}") as caught:
        parse_window(raw)
    assert len(str(caught.value)) < 120  # a hostile value is quoted cut short


@pytest.mark.parametrize("raw", [None, 30, ["30d"]])
def test_a_window_that_is_not_text_is_refused(raw):
    with pytest.raises(WindowError, match="^window: must be like 30d"):
        parse_window(raw)


def test_the_error_names_the_field_it_is_given():
    with pytest.raises(WindowError, match="^NPS_TV_WINDOW: must be at least 1d"):
        parse_window("0d", field="NPS_TV_WINDOW")
    assert issubclass(WindowError, ValueError)


def test_window_days_counts_days_and_none_for_all_and_range():
    assert [window_days(w) for w in ("1d", "30d", ALL, RANGE)] == [1, 30, None, None]
    with pytest.raises(WindowError):
        window_days("30")
    assert days_window(30) == "30d" and window_days(days_window(7)) == 7


def test_labels_and_titles():
    start, end = date(2026, 1, 1), date(2026, 1, 31)
    assert window_label("30d") == "last 30 days"
    assert window_label(ALL) == "all time"
    assert window_label(RANGE, start, end) == "2026-01-01 to 2026-01-31"
    assert window_label(RANGE) == "start to today"
    assert [window_title(w) for w in ("1d", "30d", ALL)] == ["Today", "Last 30 days", "All time"]
    assert window_title(RANGE, start) == "2026-01-01 to today"


def test_the_previous_period_is_named_after_the_window():
    assert describe_previous_window("1d") == "vs previous day"
    assert describe_previous_window("30d") == "vs previous 30 days"
    assert describe_previous_window(RANGE) == "vs previous period"
    assert describe_previous_window(ALL) == "no earlier period to compare"
