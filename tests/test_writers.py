"""Output files: whole lines only, crash tails repaired, exports that round-trip."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from rich.console import Console

from summarizer.export import CSV_COLUMNS
from summarizer.schema import ArticleSummary, Result, RunInfo
from summarizer.terminal import tables
from summarizer.writers import (
    LineLog,
    done_ids,
    export,
    load_results,
    repair_tail,
)


def make_result(id: str, *, grounded: bool = True) -> Result:
    """A result with one item of each kind, with the awkward characters real names have."""
    summary = ArticleSummary.model_validate(
        {
            "id": id,
            "title": f"Talks in Moscow, {id}",
            "published": "2025-05-09",
            "summary": "Maduro met Putin; they signed a deal. A *dispute* goes on.",
            "meetings": [
                {
                    "participants": [
                        {"name": "Nicolás Maduro", "kind": "person"},
                        {"name": "Vladimir Putin", "kind": "person"},
                    ],
                    "date": "2025-05-09",
                    "location": "Moscow",
                    "status": "held",
                    "topics": ["energy", "trade"],
                    "evidence": [{"quote": 'He said, "we met"', "grounded": grounded}],
                }
            ],
            "agreements": [
                {
                    "name": "Strategic partnership, 2025",
                    "parties": [
                        {"name": "Venezuela", "kind": "country"},
                        {"name": "Russia", "kind": "country"},
                    ],
                    "status": "signed",
                    "areas": ["energy", "mining"],
                    "count": 22,
                    "evidence": [{"quote": "They signed 22 agreements.", "grounded": True}],
                }
            ],
            "disputes": [
                {
                    "issue": "Essequibo",
                    "kind": "territorial",
                    "sides": [
                        {"parties": [{"name": "Venezuela", "kind": "country"}]},
                        {
                            "parties": [
                                {"name": "Guyana", "kind": "country"},
                                {"name": "ExxonMobil", "kind": "organization"},
                            ]
                        },
                    ],
                    "status": "ongoing",
                    "evidence": ["The row over Essequibo continues.", "Line two\nwith break."],
                }
            ],
        }
    )
    return Result(summary=summary, run=RunInfo(model="m", endpoint="e", prompt_version="p"))


def write_results(path: Path, *results: Result) -> None:
    with LineLog(path) as log:
        for result in results:
            log.append(result.model_dump_json())


def test_linelog_appends_whole_lines_and_creates_lazily(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "out.jsonl"
    with LineLog(path):
        pass
    assert not path.exists()  # no empty errors.jsonl after a clean run
    with LineLog(path) as log:
        log.append('{"a": 1}')
        log.append('{"b": 2}')
    assert path.read_text() == '{"a": 1}\n{"b": 2}\n'


def test_repair_tail_cuts_only_a_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    assert repair_tail(path) == 0  # missing file: nothing to do
    path.write_text('{"a": 1}\n{"b": 2}\n')
    assert repair_tail(path) == 0
    path.write_text('{"a": 1}\n{"b": 2}\n{"c": ')
    assert repair_tail(path) == len('{"c": ')
    assert path.read_text() == '{"a": 1}\n{"b": 2}\n'
    path.write_text('{"only": "partial' + "x" * 100_000)  # longer than one read chunk
    assert repair_tail(path) > 100_000
    assert path.read_bytes() == b""


def test_done_ids_and_load_results_skip_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    write_results(path, make_result("b"), make_result("a"))
    with path.open("a") as file:
        file.write("not json\n\n" + json.dumps({"summary": {}}) + "\n")
    write_results(path, make_result("b"))  # a repeated id: the last line wins
    assert done_ids(path) == {"a", "b"}
    assert done_ids(tmp_path / "missing.jsonl") == set()
    results, bad = load_results(path)
    assert [r.id for r in results] == ["a", "b"]
    assert bad == [3, 5]


def test_csv_export_parses_back_one_row_per_item(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    write_results(path, make_result("x2", grounded=False), make_result("x1"))
    target = export(path, "csv")
    assert target == tmp_path / "out.csv"
    with target.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["article_id"], r["kind"]) for r in rows] == [
        ("x1", "meeting"),
        ("x1", "agreement"),
        ("x1", "dispute"),
        ("x2", "meeting"),
        ("x2", "agreement"),
        ("x2", "dispute"),
    ]
    meeting, agreement, dispute = rows[:3]
    assert meeting["parties"] == "Nicolás Maduro; Vladimir Putin"
    assert meeting["party_kinds"] == "person; person"
    assert meeting["evidence"] == 'He said, "we met"'
    assert (meeting["date"], meeting["date_precision"], meeting["location"]) == (
        "2025-05-09",
        "day",
        "Moscow",
    )
    assert (meeting["status"], meeting["title"], meeting["item_id"]) == (
        "held",
        "Talks in Moscow, x1",
        "x1:meeting:0",
    )
    assert agreement["name"] == "Strategic partnership, 2025"
    assert (agreement["areas"], agreement["count"]) == ("energy; mining", "22")
    assert dispute["parties"] == "Venezuela; Guyana; ExxonMobil"  # the sides have their own
    assert dispute["sides"] == "Venezuela | Guyana; ExxonMobil"
    assert dispute["evidence"] == "The row over Essequibo continues. | Line two\nwith break."
    assert dispute["dispute_kind"] == "territorial"
    assert [r["grounded"] for r in rows] == ["True", "True", "False", "False", "True", "False"]


def test_json_and_markdown_exports(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    write_results(path, make_result("x1", grounded=False))
    assert export(path, "jsonl") is None
    data = json.loads(export(path, "json").read_text(encoding="utf-8"))
    assert Result.model_validate(data[0]).summary == make_result("x1", grounded=False).summary
    md = export(path, "md").read_text(encoding="utf-8")
    assert "## Talks in Moscow, x1" in md
    assert "A \\*dispute\\* goes on." in md  # the summary's own asterisks stay literal
    assert "**meeting**, Nicolás Maduro; Vladimir Putin, 2025-05-09, Moscow, held" in md
    assert "*(not grounded in the text)*" in md
    assert "Venezuela vs Guyana; ExxonMobil" in md
    assert not list(tmp_path.glob(".*.tmp"))


def test_show_renders_a_table_per_article(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    empty = make_result("e0").summary.model_copy(
        update={"meetings": [], "agreements": [], "disputes": []}
    )
    write_results(path, make_result("x1"), Result(summary=empty, run=make_result("e0").run))
    results, bad = load_results(path)
    console = Console(record=True, width=160)
    for renderable in tables(results):
        console.print(renderable)
    assert bad == []
    text = console.export_text()
    assert "Talks in Moscow, x1" in text
    assert "Nicolás Maduro; Vladimir Putin" in text
    assert "nothing found" in text
    assert "2 articles: 1 meeting, 1 agreement, 1 dispute" in text
