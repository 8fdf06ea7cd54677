"""Output files: the streaming JSONL, the exports rebuilt from it, and the `show` table.

The JSONL is the only file a batch writes while it runs: one whole line per finished
article, so a crash loses at most the articles in flight and a rerun resumes from it. JSON,
CSV and Markdown are rebuilt from the JSONL after every run, so they always agree with it
and resuming never needs them.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from summarizer.schema import Agreement, Dispute, Item, Meeting, Party, Result

Format = Literal["jsonl", "json", "csv", "md"]
FORMATS: tuple[Format, ...] = ("jsonl", "json", "csv", "md")
ERRORS_NAME = "errors.jsonl"
CSV_COLUMNS = (
    "article_id",
    "kind",
    "name",
    "parties",
    "date",
    "location",
    "status",
    "areas",
    "count",
    "topics",
    "dispute_kind",
    "description",
    "evidence",
    "grounded",
)
_TAIL_CHUNK = 1 << 16


def errors_path(out: Path) -> Path:
    """errors.jsonl lives beside the output, where a user looks for it."""
    return out.with_name(ERRORS_NAME)


class LineLog:
    """An append-only JSONL file that never holds a half line once a run ends cleanly.

    Each line goes out in a single write() on an O_APPEND descriptor and is fsync'd before
    the next, so after a crash the file holds whole lines plus at most one partial tail,
    which `repair_tail` cuts on the next start. The file is created on the first line only,
    so a run without errors leaves no empty errors.jsonl behind.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def append(self, line: str) -> None:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        data = memoryview((line + "\n").encode())
        while data:  # a short write happens only on a full disk; finish the line or raise
            data = data[os.write(self._fd, data) :]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> LineLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def repair_tail(path: Path) -> int:
    """Cut a partial last line (a crash mid-write); returns how many bytes were removed."""
    try:
        file = path.open("r+b")
    except FileNotFoundError:
        return 0
    with file:
        size = end = file.seek(0, os.SEEK_END)
        keep = 0
        while end > 0:
            start = max(0, end - _TAIL_CHUNK)
            file.seek(start)
            newline = file.read(end - start).rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        if keep < size:
            file.truncate(keep)
        return size - keep


def _records(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON or None when the line is not JSON) for each non-blank line."""
    if not path.exists():  # a run whose every article failed writes no output
        return
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except ValueError:
                yield number, None


def done_ids(path: Path) -> set[str]:
    """Ids of the articles already in an output file (cheap: no model validation)."""
    ids: set[str] = set()
    for _, record in _records(path):
        try:
            ids.add(record["summary"]["id"])
        except (TypeError, KeyError):
            continue  # not a result line: its article is simply done again
    return ids


def load_results(path: Path) -> tuple[list[Result], list[int]]:
    """Every result in a JSONL file, one per id (the last wins), sorted by id.

    Also returns the numbers of lines that are not valid results, for the caller to report.
    Sorting makes exports the same whatever order concurrent requests finished in.
    """
    by_id: dict[str, Result] = {}
    bad: list[int] = []
    for number, record in _records(path):
        try:
            result = Result.model_validate(record)
        except ValidationError:
            bad.append(number)
            continue
        by_id[result.id] = result
    return [by_id[id] for id in sorted(by_id)], bad


def export(jsonl: Path, fmt: Format) -> Path | None:
    """Rebuild the `fmt` file beside `jsonl` (same name, new suffix); None for jsonl itself."""
    if fmt == "jsonl":
        return None
    results, _ = load_results(jsonl)
    render: dict[Format, Callable[[list[Result]], str]] = {
        "json": to_json,
        "csv": to_csv,
        "md": to_markdown,
    }
    target = jsonl.with_suffix(f".{fmt}")
    tmp = target.with_name(f".{target.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as file:  # newline="": csv writes \r\n
        file.write(render[fmt](results))
    tmp.replace(target)  # readers never see a half-written export
    return target


def to_json(results: list[Result]) -> str:
    return json.dumps([r.model_dump(mode="json") for r in results], indent=2, ensure_ascii=False)


def to_csv(results: list[Result]) -> str:
    """One row per item; articles with nothing found have no row."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for result in results:
        for kind, item in result.summary.items():
            writer.writerow(csv_row(result.id, kind, item))
    return buffer.getvalue()


def csv_row(article_id: str, kind: str, item: Item) -> dict[str, Any]:
    """Flatten one item; lists are joined with "; ", dispute sides with " vs "."""
    row: dict[str, Any] = {
        "article_id": article_id,
        "kind": kind,
        "parties": who(item),
        "date": when(item),
        "status": item.status,
        "evidence": " | ".join(e.quote for e in item.evidence),
        "grounded": grounded(item),
    }
    match item:
        case Meeting():
            row.update(location=item.location, topics="; ".join(item.topics))
            row["description"] = item.outcome
        case Agreement():
            row.update(name=item.name, areas="; ".join(item.areas), count=item.count)
            row["description"] = item.description
        case Dispute():
            row.update(name=item.issue, dispute_kind=item.kind)
    return row


def names(parties: list[Party]) -> str:
    return "; ".join(p.name for p in parties)


def who(item: Item) -> str:
    """The parties of an item; a dispute reads "side A vs side B"."""
    match item:
        case Meeting():
            return names(item.participants)
        case Agreement():
            return names(item.parties)
        case Dispute():
            return " vs ".join(names(side.parties) for side in item.sides)


def when(item: Item) -> str | None:
    return None if isinstance(item, Dispute) else item.date


def what(item: Item) -> str:
    """The one-line gist shown in the digest and the table."""
    match item:
        case Meeting():
            parts = ["; ".join(item.topics), item.outcome]
        case Agreement():
            # A count the name already states ("17 agreements") is not repeated.
            count = f"{item.count} agreements" if item.count else None
            parts = [item.name, ", ".join(item.areas), None if item.name == count else count]
        case Dispute():
            parts = [f"{item.issue} ({item.kind})"]
    return " — ".join(p for p in parts if p)


def grounded(item: Item) -> bool:
    """An item counts as grounded when at least one of its quotes was found in the article."""
    return any(e.grounded for e in item.evidence)


def to_markdown(results: list[Result]) -> str:
    """A digest to read: per article, its summary and one bullet per item with a quote."""
    out = ["# Summaries", ""]
    for result in results:
        summary = result.summary
        out += [f"## {_md(summary.title or summary.id)}", ""]
        meta = [f"`{summary.id}`"]
        if summary.published:
            meta.append(f"published {summary.published.isoformat()}")
        out += [" · ".join(meta), "", _md(summary.summary), ""]
        for kind, item in summary.items():
            facts = [f"**{kind}**", _md(who(item))]
            facts += [_md(x) for x in (when(item), getattr(item, "location", None)) if x]
            facts.append(item.status)
            line = "- " + ", ".join(facts)
            if gist := what(item):
                line += f": {_md(gist)}"
            if not grounded(item):
                line += " *(not grounded in the text)*"
            out += [line, f"  > {_md(item.evidence[0].quote)}"]
        if not summary.items():
            out.append("*Nothing found.*")
        out += [f"- *warning: {_md(w)}*" for w in result.run.warnings]
        out.append("")
    return "\n".join(out)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _md(text: str) -> str:
    """Escape what Markdown would read as formatting in names and quotes."""
    for char in "\\`*_[]<>#|":
        text = text.replace(char, "\\" + char)
    return " ".join(text.split())


def show(path: Path, console: Console) -> list[int]:
    """Print a table per article of what was found; returns the numbers of unreadable lines."""
    results, bad = load_results(path)
    totals = {"meeting": 0, "agreement": 0, "dispute": 0}
    for result in results:
        summary = result.summary
        heading = Text(summary.title or summary.id, style="bold")
        if summary.title:
            heading.append(f"  [{summary.id}]", style="dim")
        items = summary.items()
        if not items:
            console.print(heading, Text("nothing found", style="dim"))
            continue
        table = Table(
            title=heading,
            caption=Text(summary.summary),
            title_justify="left",
            caption_justify="left",
            expand=True,
        )
        for column in ("kind", "who", "when", "where", "status", "what"):
            table.add_column(column, overflow="fold")
        for kind, item in items:
            totals[kind] += 1
            style = None if grounded(item) else "yellow"
            table.add_row(
                kind,
                Text(who(item)),
                when(item) or "",
                Text(getattr(item, "location", None) or ""),
                item.status,
                Text(what(item) + ("" if grounded(item) else "  (not grounded)")),
                style=style,
            )
        console.print(table, "")
    counts = ", ".join(plural(n, kind) for kind, n in totals.items())
    console.print(f"{plural(len(results), 'article')}: {counts}")
    return bad
