"""Output files: the streaming JSONL and the exports rebuilt from it.

The JSONL is the only file a batch writes while it runs: one whole line per finished
article, so a crash loses at most the articles in flight and a rerun resumes from it. JSON,
Markdown and the exports are rebuilt from the JSONL after every run, so they always agree with it
and resuming never needs them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from summarizer.actors import names_in
from summarizer.atomic import write_atomic
from summarizer.display import grounded, what, when, who
from summarizer.errors import InputError, validation_problems
from summarizer.escape import markdown
from summarizer.export import EXPORT_FORMATS, ExportFormat, default_target
from summarizer.export import export as export_results
from summarizer.redact import redact
from summarizer.schema import Result

Format = Literal["jsonl", "json", "md", ExportFormat]
FORMATS: tuple[Format, ...] = ("jsonl", "json", "md", *EXPORT_FORMATS)
ERRORS_SUFFIX = ".errors.jsonl"
_TAIL_CHUNK = 1 << 16


def errors_path(out: Path) -> Path:
    """`results.jsonl` -> `results.errors.jsonl`: each results file has its own failures,
    beside it where a user looks, so two runs into one folder never mix theirs."""
    return out.with_name(f"{out.stem}{ERRORS_SUFFIX}")


def forget_errors(errors: Path, done: set[str]) -> int:
    """Drop the failure lines of articles that have since succeeded; returns how many.

    Run at the start and end of a run, never during one, so the file a run appends to is
    only ever rewritten whole (atomically). Lines that are not JSON are kept as they are.
    """
    try:
        lines = errors.read_bytes().splitlines(keepends=True)
    except FileNotFoundError:
        return 0
    kept = []
    for line in lines:
        try:
            id = json.loads(line).get("id")
        except (ValueError, AttributeError):
            id = None
        if not isinstance(id, str) or id not in done:
            kept.append(line)
    if len(kept) < len(lines):
        if any(line.strip() for line in kept):
            write_atomic(errors, b"".join(kept).decode("utf-8", "replace"), newline="")
        else:
            errors.unlink()
    return len(lines) - len(kept)


class LineLog:
    """An append-only JSONL file that never holds a half line once a run ends cleanly.

    Each line goes out in a single write() on an O_APPEND descriptor and is fsync'd before
    the next, so after a crash the file holds whole lines plus at most one partial tail,
    which `repair_tail` cuts on the next start. The file is created on the first line only,
    so a run without errors leaves no empty errors file behind.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def append(self, line: str) -> None:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        data = memoryview((redact(line) + "\n").encode())
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


def load_results(path: Path, *, strict: bool = False) -> tuple[list[Result], list[int]]:
    """Every result in a JSONL file, one per id (the last wins), sorted by id.

    Also returns the numbers of lines that are not valid results, for the caller to report.
    Sorting makes exports the same whatever order concurrent requests finished in. `strict`
    (for scoring, where a lost or doubled article would skew the numbers) raises InputError
    instead, naming the file and line: a missing file, a bad line, or two results for an id.
    """
    if strict and not path.is_file():
        raise InputError(f"results file {path} is unreadable: no such file")
    by_id: dict[str, Result] = {}
    bad: list[int] = []
    for number, record in _records(path):
        try:
            result = Result.model_validate(record)
        except ValidationError as exc:
            if strict:
                problems = validation_problems(exc)
                raise InputError(f"{path}:{number} is not a Result: {problems}") from None
            bad.append(number)
            continue
        if strict and result.id in by_id:
            raise InputError(f"{path}:{number}: a second result for article {result.id!r}")
        by_id[result.id] = result
    return [by_id[id] for id in sorted(by_id)], bad


def export(jsonl: Path, fmt: Format) -> Path | None:
    """Rebuild the `fmt` file beside `jsonl` (same name, new suffix); None for jsonl itself.

    The table, graph and PLOVER formats are `summarizer export`'s own writers."""
    if fmt == "jsonl":
        return None
    results, _ = load_results(jsonl)
    if fmt in EXPORT_FORMATS:
        return export_results(results, fmt, default_target(jsonl, fmt)).paths[0]
    render: dict[str, Callable[[list[Result]], str]] = {"json": to_json, "md": to_markdown}
    target = jsonl.with_suffix(f".{fmt}")
    write_atomic(target, render[fmt](results))
    return target


def to_json(results: list[Result]) -> str:
    return json.dumps([r.model_dump(mode="json") for r in results], indent=2, ensure_ascii=False)


def to_markdown(results: list[Result]) -> str:
    """A digest to read: per article, its summary and one bullet per item with a quote."""
    out = ["# Summaries", ""]
    shown = names_in(results)
    for result in results:
        summary = result.summary
        out += [f"## {markdown(summary.title or summary.id)}", ""]
        meta = [markdown(summary.id)]
        if summary.published:
            meta.append(f"published {summary.published.isoformat()}")
        out += [" · ".join(meta), "", markdown(summary.summary), ""]
        for kind, item in summary.items():
            facts = [f"**{kind}**", markdown(who(item, shown))]
            facts += [markdown(x) for x in (when(item), getattr(item, "location", None)) if x]
            facts.append(item.status)
            line = "- " + ", ".join(facts)
            if gist := what(item):
                line += f": {markdown(gist)}"
            if not grounded(item):
                line += " *(not grounded in the text)*"
            out += [line, f"  > {markdown(item.evidence[0].quote)}"]
        if not summary.items():
            out.append("*Nothing found.*")
        out += [f"- *warning: {markdown(w)}*" for w in result.run.warnings]
        out.append("")
    return "\n".join(out)
