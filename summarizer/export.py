"""Exports of a results file for the tools analysts already use; no model is called.

- csv: one row per item, with its article's title, published date and URL beside it;
- csv-parties: one row per item and party (a long table that pivots without splitting);
- parquet: one row per item, parties and evidence as nested lists (pyarrow);
- sqlite: articles, items, parties and evidence tables with foreign keys (sqlite-utils);
- graph: the actor network as GEXF, GraphML and a Gephi nodes/edges CSV pair (`graph.py`);
- plover: PLOVER event records as JSON (`plover.py`).

Every CSV goes through `write_csv`, the one place a cell is written (formula-escaped,
`escape.csv_cell`), and every export starts from results with no secret left in them.
`run --format` calls `export` too, so a run's CSV is the same as `summarizer export --to csv`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from summarizer.atomic import atomic_path
from summarizer.escape import csv_cell
from summarizer.redact import redact_value
from summarizer.schema import Result
from summarizer.tables import (
    ARTICLE_COLUMNS,
    EVIDENCE_COLUMNS,
    ITEM_COLUMNS,
    PARTY_COLUMNS,
    Row,
    Tables,
    tables,
)

ExportFormat = Literal["csv", "csv-parties", "parquet", "sqlite", "graph", "plover"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = (
    "csv",
    "csv-parties",
    "parquet",
    "sqlite",
    "graph",
    "plover",
)
_ARTICLE_FIELDS = ("title", "published", "url")
# The item's columns with the article's beside its id, its parties folded into aligned
# lists and its quotes into one cell.
CSV_COLUMNS = (
    *ITEM_COLUMNS[:2],
    *_ARTICLE_FIELDS,
    *ITEM_COLUMNS[2:6],  # kind, name, date, date_precision
    "parties",
    "party_kinds",
    "party_roles",
    "party_affiliations",
    "sides",
    *ITEM_COLUMNS[6:-1],  # location ... description
    "evidence",
    "evidence_spans",
    "grounded",
)
PARTIES_CSV_COLUMNS = (
    "item_id",
    "article_id",
    *_ARTICLE_FIELDS,
    "item_kind",
    "item_name",
    "date",
    "date_precision",
    "status",
    *PARTY_COLUMNS[2:],
)
LIST_SEP = "; "  # between the values of one cell
QUOTE_SEP = " | "  # between quotes, which may hold "; " themselves


@dataclass(frozen=True)
class Written:
    """What an export wrote, and anything it had to leave out (one line each)."""

    paths: list[Path]
    notes: list[str]


def cell(value: Any) -> str:
    """One CSV cell: lists joined, None empty, everything else as str."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):  # aligned with the parties; empty when all are None
        if all(v is None for v in value):
            return ""
        return LIST_SEP.join("" if v is None else str(v) for v in value)
    return str(value)


def write_csv(
    target: Path, columns: Sequence[str], rows: Iterable[Row], *, excel: bool = False
) -> Path:
    """Write rows as CSV; every CSV the project writes goes through here.

    `excel` adds a UTF-8 byte order mark, which is how spreadsheet programs know the file is
    UTF-8 ("Nicolás" instead of "NicolÃ¡s").
    """
    with atomic_path(target) as tmp:
        encoding = "utf-8-sig" if excel else "utf-8"
        with tmp.open("w", encoding=encoding, newline="") as file:
            writer = csv.DictWriter(file, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: csv_cell(cell(row.get(k))) for k in columns})
    return target


def item_csv_rows(data: Tables) -> list[Row]:
    """The wide table: an item per row, parties and quotes folded into aligned lists."""
    articles = {a["article_id"]: a for a in data.articles}
    parties, evidence = data.by_item(data.parties), data.by_item(data.evidence)
    rows = []
    for item in data.items:
        members, quotes = parties[item["item_id"]], evidence[item["item_id"]]
        article = articles[item["article_id"]]
        sides: dict[int, list[str]] = {}
        for p in members:
            if p["side"] is not None:
                sides.setdefault(p["side"], []).append(p["name"])
        rows.append(
            {
                **item,
                **{k: article[k] for k in _ARTICLE_FIELDS},
                "parties": [p["name"] for p in members],
                "party_kinds": [p["kind"] for p in members],
                "party_roles": [p["role"] for p in members],
                "party_affiliations": [p["affiliation"] for p in members],
                "sides": QUOTE_SEP.join(LIST_SEP.join(names) for names in sides.values()),
                "evidence": QUOTE_SEP.join(q["quote"] for q in quotes),
                "evidence_spans": QUOTE_SEP.join(
                    f"{q['start']}-{q['end']}" if q["grounded"] and q["start"] is not None else ""
                    for q in quotes
                ),
            }
        )
    return rows


def party_csv_rows(data: Tables) -> list[Row]:
    """The long table: one row per item and party, with the item's and article's facts."""
    articles = {a["article_id"]: a for a in data.articles}
    items = {i["item_id"]: i for i in data.items}
    rows = []
    for party in data.parties:
        item, article = items[party["item_id"]], articles[party["article_id"]]
        rows.append(
            {
                **party,
                **{k: article[k] for k in _ARTICLE_FIELDS},
                "item_kind": item["kind"],
                "item_name": item["name"],
                "date": item["date"],
                "date_precision": item["date_precision"],
                "status": item["status"],
            }
        )
    return rows


def item_records(data: Tables) -> list[Row]:
    """One record per item with its article's facts, its parties and its quotes as lists:
    the Parquet rows, and what `show --json` prints."""
    articles = {a["article_id"]: a for a in data.articles}
    parties, evidence = data.by_item(data.parties), data.by_item(data.evidence)
    drop = {"item_id", "article_id"}
    return [
        {
            **item,
            **{k: articles[item["article_id"]][k] for k in _ARTICLE_FIELDS},
            "parties": [
                {k: v for k, v in p.items() if k not in drop} for p in parties[item["item_id"]]
            ],
            "evidence": [
                {k: v for k, v in q.items() if k not in drop} for q in evidence[item["item_id"]]
            ],
        }
        for item in data.items
    ]


def article_records(results: Sequence[Result]) -> list[Row]:
    """Per article its facts and its `item_records`, articles with nothing found included."""
    data = tables(results)
    items: dict[str, list[Row]] = {a["article_id"]: [] for a in data.articles}
    for record in item_records(data):
        items[record.pop("article_id")].append(
            {k: v for k, v in record.items() if k not in _ARTICLE_FIELDS}
        )
    return [{**a, "items": items[a["article_id"]]} for a in data.articles]


def write_parquet(target: Path, data: Tables) -> Path:
    """One row per item with its article's facts; parties and evidence as lists of structs."""
    import pyarrow as pa  # imported here: only this export needs it
    import pyarrow.parquet as pq

    party = pa.struct(
        [
            ("name", pa.string()),
            ("written", pa.string()),
            ("kind", pa.string()),
            ("role", pa.string()),
            ("affiliation", pa.string()),
            ("side", pa.int32()),
            ("side_position", pa.string()),
        ]
    )
    quote = pa.struct(
        [
            ("quote", pa.string()),
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("grounded", pa.bool_()),
        ]
    )
    schema = pa.schema(
        [
            ("item_id", pa.string()),
            ("article_id", pa.string()),
            ("title", pa.string()),
            ("published", pa.date32()),
            ("url", pa.string()),
            ("kind", pa.string()),
            ("name", pa.string()),
            ("date", pa.date32()),
            ("date_precision", pa.string()),
            ("location", pa.string()),
            ("status", pa.string()),
            ("areas", pa.list_(pa.string())),
            ("count", pa.int64()),
            ("topics", pa.list_(pa.string())),
            ("dispute_kind", pa.string()),
            ("description", pa.string()),
            ("grounded", pa.bool_()),
            ("parties", pa.list_(party)),
            ("evidence", pa.list_(quote)),
        ]
    )
    table = pa.Table.from_pylist(item_records(data), schema=schema)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)
    return target


def write_sqlite(target: Path, data: Tables) -> Path:
    """One database: articles, items, parties and evidence, joined by foreign keys."""
    import sqlite_utils  # imported here: only this export needs it

    to_article = ("article_id", "articles", "article_id")
    to_item = ("item_id", "items", "item_id")
    specs: list[tuple[str, list[Row], dict[str, type], str | tuple[str, ...], list[Any]]] = [
        (
            "articles",
            data.articles,
            _types(ARTICLE_COLUMNS, items=int, warnings=int),
            "article_id",
            [],
        ),
        (
            "items",
            [{**i, "date": i["date"] and i["date"].isoformat()} for i in data.items],
            _types(ITEM_COLUMNS, count=int, grounded=bool),
            "item_id",
            [to_article],
        ),
    ]
    for name, rows, columns in (
        ("parties", data.parties, PARTY_COLUMNS),
        ("evidence", data.evidence, EVIDENCE_COLUMNS),
    ):
        types = _types(columns, position=int, side=int, start=int, end=int, grounded=bool)
        specs.append((name, rows, types, ("item_id", "position"), [to_item, to_article]))
    with atomic_path(target) as tmp:
        db = sqlite_utils.Database(tmp)
        for name, rows, types, pk, keys in specs:  # created first: an empty table still exists
            db[name].create(types, pk=pk, foreign_keys=keys)
            db[name].insert_all(rows)
            if name != "articles":
                db[name].create_index(["article_id"])
        db["parties"].create_index(["name"])
        db.close()
    return target


def _types(columns: Sequence[str], **types: type) -> dict[str, type]:
    """Column types for sqlite-utils, so an empty export still has every column and a column
    whose first values are empty is not guessed wrong."""
    return {c: types.get(c, str) for c in columns}


def export(
    results: Sequence[Result], fmt: ExportFormat, target: Path, *, excel: bool = False
) -> Written:
    """Write `results` as `fmt` at `target` (the graph: several files named after it)."""
    results = [_without_secrets(result) for result in results]
    if fmt == "graph":
        from summarizer.graph import write_graph

        return write_graph(target, results, excel=excel)
    if fmt == "plover":
        from summarizer.plover import write_plover

        return write_plover(target, results)
    data = tables(results)
    match fmt:
        case "csv":
            path = write_csv(target, CSV_COLUMNS, item_csv_rows(data), excel=excel)
        case "csv-parties":
            path = write_csv(target, PARTIES_CSV_COLUMNS, party_csv_rows(data), excel=excel)
        case "parquet":
            path = write_parquet(target, data)
        case "sqlite":
            path = write_sqlite(target, data)
    return Written([path], [])


def _without_secrets(result: Result) -> Result:
    """`result` with any registered secret replaced (`redact`): the binary formats written
    through `atomic_path` cannot be redacted as text afterwards."""
    data = result.model_dump(mode="json")
    clean = redact_value(data)
    return result if clean == data else Result.model_validate(clean)


def default_target(results_path: Path, fmt: ExportFormat) -> Path:
    """Where an export goes when no --out is given: beside the results, a suffix per format."""
    suffix = {
        "csv": ".csv",
        "csv-parties": ".parties.csv",
        "parquet": ".parquet",
        "sqlite": ".sqlite",
        "graph": ".gexf",
        "plover": ".plover.jsonl",
    }[fmt]
    return results_path.with_name(results_path.stem + suffix)
