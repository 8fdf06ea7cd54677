from __future__ import annotations

import datetime as dt

import pytest

from summarizer.dates import iso, published_from_header, resolve

FRIDAY = dt.date(2024, 11, 8)
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("Thursday", "2024-11-07"),
        ("on Wednesday", "2024-11-06"),
        ("Thursday night", "2024-11-07"),
        ("Friday", "2024-11-08"),
        ("Saturday", "2024-11-02"),
        ("yesterday", "2024-11-07"),
        ("last month", "2024-10"),
        ("in March", "2024-03"),
        ("November", "2024-11"),
        ("December", "2023-12"),
        ("last year", "2023"),
        ("this week", "2024-11"),
        ("earlier this month", "2024-11"),
        ("2019", "2019"),
        ("September 2019", "2019-09"),
        ("May 9, 2025", "2025-05-09"),
        ("2025-05-08", "2025-05-08"),
        ("11/07/2024", "2024-11-07"),
        ("  on 7\u00a0November  ", "2024-11-07"),
        ("Q3 2024", "2024"),
        ("next Tuesday", "2024-11-12"),
    ],
)
def test_resolves_at_the_stated_precision(expression: str, expected: str) -> None:
    assert resolve(expression, FRIDAY) == expected


def test_bare_month_day_is_the_last_one_before_publication() -> None:
    assert resolve("May 8", dt.date(2025, 5, 9)) == "2025-05-08"
    assert resolve("May 8", dt.date(2025, 5, 7)) == "2024-05-08"


def test_last_month_keeps_month_precision() -> None:
    assert resolve("last month", dt.date(2025, 5, 9)) == "2025-04"


def test_a_week_across_two_months_is_only_its_year() -> None:
    assert resolve("last week", FRIDAY) == "2024"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("May 8-9", "2025-05-08"),
        ("May 8\u20139, 2025", "2025-05-08"),
        ("May 8 and 9", "2025-05-08"),
        ("between May 8 and May 9", "2025-05-08"),
        ("May 30 - June 2", "2024-05-30"),
        ("2019-2020", "2019"),
        ("on Wednesday and Thursday", "2025-05-07"),
    ],
)
def test_ranges_and_lists_give_their_first_member(expression: str, expected: str) -> None:
    assert resolve(expression, dt.date(2025, 5, 9)) == expected


@pytest.mark.parametrize("published", [FRIDAY + dt.timedelta(days=n) for n in range(7)])
@pytest.mark.parametrize("weekday", WEEKDAYS)
def test_a_weekday_is_never_after_publication(weekday: str, published: dt.date) -> None:
    resolved = dt.date.fromisoformat(resolve(weekday, published) or "")
    assert published - dt.timedelta(days=6) <= resolved <= published
    assert WEEKDAYS[resolved.weekday()] == weekday


@pytest.mark.parametrize(
    "expression", ["Wednesday", "yesterday", "last month", "in March", "May 8", "this week"]
)
def test_relative_words_need_a_publication_date(expression: str) -> None:
    assert resolve(expression, None) is None


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("2019", "2019"), ("September 2019", "2019-09"), ("May 9, 2025", "2025-05-09")],
)
def test_absolute_dates_need_no_publication_date(expression: str, expected: str) -> None:
    assert resolve(expression, None) == expected


@pytest.mark.parametrize(
    "expression",
    [None, "", "   ", "soon", "recently", "unknown", "N/A", "not specified", "the 1990s", "?"],
)
def test_garbage_is_none(expression: str | None) -> None:
    assert resolve(expression, FRIDAY) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" date 2024-11-08 Support The Moscow Times!\nContribute today\n", dt.date(2024, 11, 8)),
        ("Date: 2019-09-25\nPutin Backs Venezuela", dt.date(2019, 9, 25)),
        ("DATE 2025-05-09", dt.date(2025, 5, 9)),
        ("Headline\n\n\n\tdate:2024-01-31 rest\nbody", dt.date(2024, 1, 31)),
        ("date 2024-11-08\r\nHeadline", dt.date(2024, 11, 8)),
    ],
)
def test_header_line(text: str, expected: dt.date) -> None:
    assert published_from_header(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Headline\nThe date 2024-11-08 was set for talks.",
        "a\nb\nc\nd\ne\ndate 2024-11-08",
        "updated 2024-11-08",
        "date 2024-13-45\nbody",
        "date 2024-11-081",
    ],
)
def test_no_header_line(text: str) -> None:
    assert published_from_header(text) is None


def test_iso() -> None:
    assert iso(dt.date(2024, 11, 8)) == "2024-11-08"
    assert iso(dt.datetime(2024, 11, 8, 13, 5)) == "2024-11-08"


@pytest.mark.parametrize(
    ("words", "lang", "expected"),
    [
        ("el pasado noviembre", "es", "2022-11"),
        ("el domingo 7 de mayo", "es", "2023-05-07"),
        ("mardi 5 mai", "fr", "2023-05-05"),
        ("25 ноября", "ru", "2022-11-25"),
        ("last month", "es", "2023-04"),  # the model may still write English
        ("Thursday", "xx", "2023-05-04"),  # a code dateparser does not know: English alone
    ],
)
def test_date_words_are_read_in_the_articles_language(words: str, lang: str, expected: str) -> None:
    assert resolve(words, dt.date(2023, 5, 7), lang) == expected
