"""A results file as four tables: articles, items, parties and evidence.

Every export (CSV, Parquet, SQLite) is built from these rows, so they all say the same
thing. Party names are the canonical ones of the file (`actors.names_in`), with the name
as the article wrote it beside them. Dates of any precision become the first day of their
period plus a precision (day, month or year), so `pandas.to_datetime` reads every one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from summarizer.actors import names_in
from summarizer.dates import period
from summarizer.display import grounded, when
from summarizer.schema import Agreement, Dispute, Item, Meeting, Result, parties

Precision = Literal["day", "month", "year"]
Row = dict[str, Any]

ARTICLE_COLUMNS = (
    "article_id",
    "title",
    "published",
    "url",
    "summary",
    "items",
    "warnings",
    "model",
    "prompt_version",
)
ITEM_COLUMNS = (
    "item_id",
    "article_id",
    "kind",
    "name",
    "date",
    "date_precision",
    "location",
    "status",
    "areas",
    "count",
    "topics",
    "dispute_kind",
    "description",
    "grounded",
)
PARTY_COLUMNS = (
    "item_id",
    "article_id",
    "position",
    "name",
    "written",
    "kind",
    "role",
    "affiliation",
    "side",
    "side_position",
)
EVIDENCE_COLUMNS = ("item_id", "article_id", "position", "quote", "start", "end", "grounded")


def date_parts(date: str | None) -> tuple[dt.date | None, Precision | None]:
    """ "2025-04" -> (2025-04-01, "month"): a full date any reader parses, and how much of it
    the article said."""
    span = period(date)
    if date is None or span is None:
        return None, None
    precision: Precision = ("year", "month", "day")[date.count("-")]
    return dt.date.fromisoformat(span[0]), precision


def item_id(item: Item) -> str:
    """An item's id in every export: the results file's own, "<article id>:<kind>:<n>"."""
    assert item.id is not None  # every item read from a results file has one
    return item.id


def item_name(item: Item) -> str | None:
    """What an item is called: an agreement's name, a dispute's issue; meetings have none."""
    match item:
        case Agreement():
            return item.name
        case Dispute():
            return item.issue
        case Meeting():
            return None


@dataclass
class Tables:
    """The four tables, rows as dicts keyed by the *_COLUMNS names; lists stay lists."""

    names: dict[str, str]
    articles: list[Row] = field(default_factory=list)
    items: list[Row] = field(default_factory=list)
    parties: list[Row] = field(default_factory=list)
    evidence: list[Row] = field(default_factory=list)

    def by_item(self, rows: list[Row]) -> dict[str, list[Row]]:
        grouped: dict[str, list[Row]] = {row["item_id"]: [] for row in self.items}
        for row in rows:
            grouped[row["item_id"]].append(row)
        return grouped


def tables(results: Sequence[Result]) -> Tables:
    """The rows of every article, item, party and quote, in results order."""
    out = Tables(names=names_in(results))
    for result in results:
        summary, run = result.summary, result.run
        items = summary.items()
        out.articles.append(
            {
                "article_id": summary.id,
                "title": summary.title,
                "published": summary.published,
                "url": summary.url,
                "summary": summary.summary,
                "items": len(items),
                "warnings": len(run.warnings),
                "model": run.model,
                "prompt_version": run.prompt_version,
            }
        )
        for kind, item in items:
            iid = item_id(item)
            out.items.append(_item_row(iid, summary.id, kind, item))
            out.parties += _party_rows(iid, summary.id, item, out.names)
            out.evidence += [
                {
                    "item_id": iid,
                    "article_id": summary.id,
                    "position": n,
                    "quote": e.quote,
                    "start": e.start,
                    "end": e.end,
                    "grounded": e.grounded,
                }
                for n, e in enumerate(item.evidence, 1)
            ]
    return out


def _item_row(iid: str, article_id: str, kind: str, item: Item) -> Row:
    date, precision = date_parts(when(item))
    row: Row = dict.fromkeys(ITEM_COLUMNS)
    row.update(
        item_id=iid,
        article_id=article_id,
        kind=kind,
        name=item_name(item),
        date=date,
        date_precision=precision,
        status=item.status,
        areas=[],
        topics=[],
        grounded=grounded(item),
    )
    match item:
        case Meeting():
            row.update(location=item.location, topics=list(item.topics), description=item.outcome)
        case Agreement():
            row.update(areas=list(item.areas), count=item.count, description=item.description)
        case Dispute():
            row.update(dispute_kind=item.kind)
    return row


def _party_rows(iid: str, article_id: str, item: Item, names: dict[str, str]) -> list[Row]:
    """One row per party; a dispute's parties carry their side's number (from 1)."""
    sides = (
        [(n, side.position, side.parties) for n, side in enumerate(item.sides, 1)]
        if isinstance(item, Dispute)
        else [(None, None, parties(item))]
    )
    rows = []
    for side, position, members in sides:
        for party in members:
            rows.append(
                {
                    "item_id": iid,
                    "article_id": article_id,
                    "position": len(rows) + 1,
                    "name": names[party.name],
                    "written": party.name,
                    "kind": party.kind,
                    "role": party.role,
                    "affiliation": party.affiliation,
                    "side": side,
                    "side_position": position,
                }
            )
    return rows
