"""Turn the date words a model copied from an article into ISO 8601 at the article's precision.

"Last month" in a report published 2025-05-09 is 2025-04, not 2025-04-09: the output keeps the
precision the words carry (day, month or year) and resolves relative words against the
publication date only, never against the machine's clock. Without a publication date a
relative expression yields None rather than a guess.

How ambiguous words are read:
- A bare weekday is its latest occurrence on or before publication; the publication weekday
  itself is the publication day ("Putin said on Friday" in Friday's paper is that Friday).
- Other expressions read as the latest date not after publication where dateparser's
  past preference allows it: "December" in a November report is last December, so a
  planned event named without its year lands a year early. Explicit future words ("next
  Tuesday", "tomorrow") stay in the future.
- A range or list of days ("May 8-9", "May 8 and 9", "2019-2020") gives its first member at
  that member's precision; an expression that only contains a date ("earlier this month")
  gives the first date dateparser finds in it. dateparser splits "September 2019 and
  October" before the year, so such a list reads as a yearless "September".
- A week is reported as its month, or its year when it straddles two months; a quarter as
  its year. Decades ("the 1990s") have no such precision and give None.
- The article's language (as the model names it) and English, never dateparser's own
  language detection, which reads stray words such as "de" or "on" as dates in other
  languages. A language dateparser does not know falls back to English alone.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any

from dateparser.data.languages_info import language_order
from dateparser.date import DateDataParser
from dateparser.search import search_dates

from summarizer.schema import ISO_DATE

_ENGLISH = ("en",)
# ISO prefix length for each dateparser period; a week is settled by _at_precision.
_ISO_LENGTH = {"day": 10, "month": 7, "quarter": 4, "year": 4}
# Two far-apart bases: an expression that reads the same against both is absolute.
_PROBES = (dt.date(2001, 2, 3), dt.date(2012, 9, 20))
_HEADER_LINES = 5

_MEMBER = r"(?:\d{4}|\d{1,2}(?:st|nd|rd|th)?)"
# The second member of a range or pair of days or years; ISO and slashed dates never match.
_RANGE = re.compile(
    rf"(?<![\d./-])({_MEMBER})\s*(?:-|\u2013|\u2014|&|\b(?:to|and|through|until)\b)\s*"
    rf"{_MEMBER}\b(?![./:-]\d)",
    re.IGNORECASE,
)
# dateparser reads "1990s" as 1990 seconds before now.
_DECADE = re.compile(r"\d0['\u2019]?s\b", re.IGNORECASE)
_HEADER = re.compile(r"^\s*date\s*[:\s]\s*(\d{4}-\d{2}-\d{2})(?!\d)", re.IGNORECASE)


def iso(d: dt.date) -> str:
    """YYYY-MM-DD, also for a datetime, whose time is no part of a publication date."""
    return d.isoformat()[:10]


def _at_precision(d: dt.date, period: str) -> str | None:
    if period == "week":
        monday = d - dt.timedelta(days=d.weekday())
        sunday = monday + dt.timedelta(days=6)
        if monday.year != sunday.year:
            return None
        return iso(d)[: 7 if monday.month == sunday.month else 4]
    length = _ISO_LENGTH.get(period)
    return None if length is None else iso(d)[:length]


def _languages(lang: str | None) -> tuple[str, ...]:
    """The languages to read dates in: the article's (if dateparser knows it), then English."""
    if not lang or lang == "en" or lang not in language_order:
        return _ENGLISH
    return (lang, *_ENGLISH)


def _read_with(
    expression: str, base: dt.date, prefer: str, languages: tuple[str, ...]
) -> str | None:
    settings: dict[str, Any] = {
        "RELATIVE_BASE": dt.datetime.combine(base, dt.time()),
        "PREFER_DATES_FROM": prefer,
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    parser = DateDataParser(languages=list(languages), settings=settings)
    data = parser.get_date_data(expression)
    if data.date_obj is None:
        found = search_dates(expression, languages=list(languages), settings=settings)
        if not found:
            return None
        data = parser.get_date_data(found[0][0])
        if data.date_obj is None:
            return None
    return _at_precision(data.date_obj.date(), data.period)


def _read(expression: str, published: dt.date, languages: tuple[str, ...]) -> str | None:
    # 'current_period' keeps the publication weekday on the publication day, where 'past'
    # would jump back a week; 'past' then settles anything the first reading put later.
    reading = _read_with(expression, published, "current_period", languages)
    if reading is not None and reading > iso(published)[: len(reading)]:
        reading = _read_with(expression, published, "past", languages)
    return reading


def resolve(
    expression: str | None, published: dt.date | None, lang: str | None = None
) -> str | None:
    """ISO date (YYYY-MM-DD, YYYY-MM or YYYY) that `expression` names, or None.

    Relative words are read against `published`, in the article's language `lang` or
    English; see the module docstring for the choices.
    """
    if expression is None:
        return None
    text = _RANGE.sub(r"\1", " ".join(expression.split()))
    if not text or _DECADE.search(text):
        return None
    languages = _languages(lang)
    if published is not None:
        return _read(text, published, languages)
    readings = {_read(text, probe, languages) for probe in _PROBES}
    return readings.pop() if len(readings) == 1 else None


def published_from_header(text: str) -> dt.date | None:
    """The date of a `date YYYY-MM-DD` line that scrapers put at the top of an article."""
    for line in text.split("\n", _HEADER_LINES)[:_HEADER_LINES]:
        match = _HEADER.match(line)
        if match:
            try:
                return dt.date.fromisoformat(match.group(1))
            except ValueError:
                continue
    return None


def period(date: str | None) -> tuple[str, str] | None:
    """First and last day of an ISO date of any precision ("2025-05" → May 1st to 31st)."""
    match = ISO_DATE.match(date or "")
    if not match:
        return None
    year, month, day = match.groups()
    if day:
        return match.group(), match.group()
    if month:
        last = calendar.monthrange(int(year), int(month))[1]
        return f"{year}-{month}-01", f"{year}-{month}-{last:02d}"
    return f"{year}-01-01", f"{year}-12-31"
