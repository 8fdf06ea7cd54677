"""`summarizer export`: every format through the real command, read back by the tools
analysts use (pandas, sqlite3, networkx, a JSON Schema validator)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import jsonschema
import networkx as nx
import pandas as pd
import pytest
from click.testing import Result as CliResult
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.export import EXPORT_FORMATS
from summarizer.plover import country_code
from summarizer.schema import ArticleSummary, Result, RunInfo
from summarizer.writers import LineLog
from tests.conftest import ROOT

SCHEMA = json.loads((ROOT / "docs" / "plover.schema.json").read_text(encoding="utf-8"))
# Fields the records add beyond the manual's, each documented in docs/plover.md.
PLOVER_EXTENSIONS = {"date_precision", "date_source", "article_id"}


def party(name: str, kind: str = "person", **extra: str) -> dict[str, str]:
    return {"name": name, "kind": kind, **extra}


def quote(text: str, start: int | None = None) -> dict[str, Any]:
    if start is None:
        return {"quote": text}
    return {"quote": text, "start": start, "end": start + len(text), "grounded": True}


def result(id: str, **summary: Any) -> Result:
    summary.setdefault("summary", f"Summary of {id}.")
    return Result(
        summary=ArticleSummary.model_validate({"id": id, **summary}),
        run=RunInfo(model="stub-model", endpoint="none", prompt_version="test"),
    )


def corpus() -> list[Result]:
    """Three articles that name Maduro three ways, with a month-precision date and a URL."""
    return [
        result(
            "a1",
            title="Maduro in Moscow",
            published="2025-05-09",
            url="https://example.org/a1",
            meetings=[
                {
                    "participants": [
                        party("Maduro", role="President", affiliation="Venezuela"),
                        party("Vladimir Putin", affiliation="Russia"),
                    ],
                    "date": "2025-05",
                    "location": "Moscow",
                    "status": "held",
                    "topics": ["energy"],
                    "evidence": [quote("Maduro met Putin in Moscow.", 10)],
                }
            ],
            agreements=[
                {
                    "name": "17 agreements",
                    "parties": [party("Venezuela", "country"), party("Russia", "country")],
                    "date": "2025-05-07",
                    "status": "signed",
                    "areas": ["energy", "security"],
                    "count": 17,
                    "evidence": [quote("They signed 17 agreements.", 40)],
                }
            ],
        ),
        result(
            "a2",
            title=None,
            published="2025-05-10",
            meetings=[
                {
                    "participants": [party("Nicolás Maduro"), party("Xi Jinping")],
                    "status": "held",
                    "evidence": [quote("Nicolás Maduro dined with Xi Jinping.", 0)],
                }
            ],
            disputes=[
                {
                    "issue": "Essequibo",
                    "kind": "territorial",
                    "sides": [
                        {"parties": [party("Nicolas Maduro")], "position": "claims it"},
                        {
                            "parties": [
                                party("Guyana", "country"),
                                party("ExxonMobil", "organization"),
                            ]
                        },
                    ],
                    "status": "ongoing",
                    "evidence": [quote("The row over =Essequibo, goes on.")],
                }
            ],
        ),
        result("a3", title="Nothing here", published=None),
    ]


def write_results(path: Path, results: list[Result]) -> Path:
    with LineLog(path) as log:
        for r in results:
            log.append(r.model_dump_json())
    return path


def export(*args: str) -> CliResult:
    return CliRunner().invoke(app, ["export", *args])


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return write_results(tmp_path / "results.jsonl", corpus())


def test_csv_round_trips_through_pandas(results: Path) -> None:
    done = export(str(results), "--to", "csv")
    assert done.exit_code == 0, done.output
    assert "wrote" in done.output and "3 articles, 4 items" in done.output
    frame = pd.read_csv(results.with_suffix(".csv"), parse_dates=["date", "published"])
    assert list(frame["item_id"]) == [
        "a1:meeting:0",
        "a1:agreement:0",
        "a2:meeting:0",
        "a2:dispute:0",
    ]
    assert list(frame["kind"]) == ["meeting", "agreement", "meeting", "dispute"]
    # One name per actor, whatever the article wrote.
    assert frame.loc[0, "parties"] == "Nicolás Maduro; Vladimir Putin"
    assert frame.loc[2, "parties"] == "Nicolás Maduro; Xi Jinping"
    assert frame.loc[3, "parties"] == "Nicolás Maduro; Guyana; ExxonMobil"
    assert frame.loc[3, "sides"] == "Nicolás Maduro | Guyana; ExxonMobil"  # not mixed into parties
    assert frame.loc[0, "party_roles"] == "President; "
    assert frame.loc[0, "party_affiliations"] == "Venezuela; Russia"
    # "2025-05" is a month: the date column parses, and the precision says what is known.
    assert frame["date"].dtype.kind == "M"
    assert str(frame.loc[0, "date"].date()) == "2025-05-01"
    assert list(frame["date_precision"].fillna("")) == ["month", "day", "", ""]
    assert frame.loc[0, "title"] == "Maduro in Moscow"
    assert frame.loc[0, "url"] == "https://example.org/a1"
    assert str(frame.loc[2, "published"].date()) == "2025-05-10"
    assert frame.loc[0, "evidence_spans"] == "10-37"
    assert frame.loc[1, "count"] == 17
    assert list(frame["grounded"]) == [True, True, True, False]


def test_excel_csv_has_a_byte_order_mark(results: Path, tmp_path: Path) -> None:
    target = tmp_path / "for-excel.csv"
    assert export(str(results), "--to", "csv", "--excel", "-o", str(target)).exit_code == 0
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert "Nicolás Maduro" in data.decode("utf-8-sig")
    plain = export(str(results), "--to", "csv")
    assert plain.exit_code == 0
    assert not results.with_suffix(".csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_csv_parties_pivots_without_splitting(results: Path) -> None:
    assert export(str(results), "--to", "csv-parties").exit_code == 0
    frame = pd.read_csv(results.with_name("results.parties.csv"))
    assert len(frame) == 9  # 2 + 2 + 2 + 3 parties
    dispute = frame[frame["item_kind"] == "dispute"]
    assert list(dispute["name"]) == ["Nicolás Maduro", "Guyana", "ExxonMobil"]
    assert list(dispute["written"]) == ["Nicolas Maduro", "Guyana", "ExxonMobil"]
    assert list(dispute["side"]) == [1, 2, 2]
    assert list(dispute["side_position"].fillna("")) == ["claims it", "", ""]
    per_actor = frame.pivot_table(
        index="name", columns="item_kind", values="item_id", aggfunc="count"
    )
    assert per_actor.loc["Nicolás Maduro"].fillna(0).to_dict() == {
        "agreement": 0,
        "dispute": 1,
        "meeting": 2,
    }


def test_parquet_round_trips_through_pandas(results: Path) -> None:
    assert export(str(results), "--to", "parquet").exit_code == 0
    frame = pd.read_parquet(results.with_suffix(".parquet"))
    assert list(frame["item_id"]) == [
        "a1:meeting:0",
        "a1:agreement:0",
        "a2:meeting:0",
        "a2:dispute:0",
    ]
    assert str(frame.loc[0, "date"]) == "2025-05-01"
    assert frame.loc[0, "date_precision"] == "month"
    assert list(frame.loc[1, "areas"]) == ["energy", "security"]
    parties = list(frame.loc[3, "parties"])
    assert [(p["name"], p["written"], p["side"]) for p in parties] == [
        ("Nicolás Maduro", "Nicolas Maduro", 1),
        ("Guyana", "Guyana", 2),
        ("ExxonMobil", "ExxonMobil", 2),
    ]
    evidence = list(frame.loc[0, "evidence"])
    assert (evidence[0]["start"], evidence[0]["end"], evidence[0]["grounded"]) == (10, 37, True)
    assert frame.loc[0, "url"] == "https://example.org/a1"


def test_sqlite_has_four_tables_joined_by_foreign_keys(results: Path) -> None:
    assert export(str(results), "--to", "sqlite").exit_code == 0
    db = sqlite3.connect(results.with_suffix(".sqlite"))
    tables = {row[0] for row in db.execute("select name from sqlite_master where type='table'")}
    assert {"articles", "items", "parties", "evidence"} <= tables
    keys = {
        table: {(row[2], row[3], row[4]) for row in db.execute(f"pragma foreign_key_list({table})")}
        for table in ("items", "parties", "evidence")
    }
    assert keys["items"] == {("articles", "article_id", "article_id")}
    assert ("items", "item_id", "item_id") in keys["parties"]
    assert ("items", "item_id", "item_id") in keys["evidence"]
    assert list(db.execute("pragma foreign_key_check")) == []
    assert db.execute("select count(*) from articles").fetchone() == (3,)
    rows = db.execute(
        "select i.kind, count(*) from parties p join items i using (item_id) "
        "where p.name = 'Nicolás Maduro' group by i.kind order by i.kind"
    ).fetchall()
    assert rows == [("dispute", 1), ("meeting", 2)]
    untitled = db.execute("select title, items from articles where article_id = 'a3'").fetchone()
    assert untitled == ("Nothing here", 0)


def test_graph_opens_in_networkx_with_the_expected_actors(results: Path) -> None:
    done = export(str(results), "--to", "graph")
    assert done.exit_code == 0, done.output
    expected_nodes = {
        "Nicolás Maduro",
        "Vladimir Putin",
        "Venezuela",
        "Russia",
        "Xi Jinping",
        "Guyana",
        "ExxonMobil",
    }
    for reader, suffix in ((nx.read_gexf, ".gexf"), (nx.read_graphml, ".graphml")):
        graph = reader(results.with_suffix(suffix))
        assert set(graph.nodes) == expected_nodes
        assert graph.number_of_edges() == 5
        pairs = {frozenset((a, b)): d for a, b, d in graph.edges(data=True)}
        assert pairs[frozenset(("Nicolás Maduro", "Guyana"))]["kind"] == "dispute"
        meeting = pairs[frozenset(("Nicolás Maduro", "Vladimir Putin"))]
        assert (meeting["kind"], meeting["date"]) == ("meeting", "2025-05")
        assert graph.nodes["Nicolás Maduro"]["kind"] == "person"
        assert graph.nodes["Nicolás Maduro"]["affiliation"] == "Venezuela"
    nodes = pd.read_csv(results.with_name("results.nodes.csv"))
    edges = pd.read_csv(results.with_name("results.edges.csv"))
    assert list(nodes.columns[:2]) == ["Id", "Label"]
    assert list(edges.columns[:4]) == ["Source", "Target", "Weight", "Type"]
    assert set(nodes["Id"]) == expected_nodes
    assert len(edges) == 5 and set(edges["Type"]) == {"Undirected"}
    assert set(edges["kind"]) == {"meeting", "agreement", "dispute"}


def test_plover_records_validate_against_the_manuals_fields(results: Path) -> None:
    done = export(str(results), "--to", "plover")
    assert done.exit_code == 0, done.output
    lines = results.with_name("results.plover.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for record in records:
        validator.validate(record)
        assert set(record) <= set(SCHEMA["properties"]) | PLOVER_EXTENSIONS
    by_id = {r["id"]: r for r in records}
    consult = by_id["a1:meeting:0"]
    assert consult["event"] == ["CONSULT"] and consult["quad_code"] == 1
    assert (consult["date"], consult["date_precision"]) == ("2025-05-01", "month")
    assert [a.get("code") for a in consult["source"]] == ["VEN", "RUS"]  # by affiliation
    assert consult["source"][0]["identifier_text"] == "Nicolás Maduro"
    assert consult["source"][0]["actor_text"] == "Maduro"
    assert consult["cite_info"]["url"] == "https://example.org/a1"
    agreement = by_id["a1:agreement:0"]
    assert agreement["event"] == ["COOPERATE"] and agreement["quad_code"] == 2
    assert agreement["source"][0]["code"] == "VEN" and agreement["recipient"][0]["code"] == "RUS"
    dispute = by_id["a2:dispute:0"]
    assert dispute["event"] == ["REJECT"] and dispute["context"] == ["resource"]
    assert (dispute["date"], dispute["date_source"]) == ("2025-05-10", "published")
    assert [a.get("code") for a in dispute["recipient"]] == ["GUY", None]
    assert "text_info" not in dispute  # its quote was not found in the article
    # An undated meeting in an article with a date takes the published date.
    assert by_id["a2:meeting:0"]["date_source"] == "published"


def test_plover_leaves_out_what_has_no_date_and_says_so(tmp_path: Path) -> None:
    undated = result(
        "u1",
        meetings=[
            {
                "participants": [party("Ana"), party("Bo")],
                "status": "held",
                "evidence": [quote("Ana met Bo.")],
            }
        ],
    )
    path = write_results(tmp_path / "r.jsonl", [undated])
    done = export(str(path), "--to", "plover")
    assert done.exit_code == 0
    assert "left out 1 item" in done.output
    assert (tmp_path / "r.plover.jsonl").read_text() == ""


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Venezuela", "VEN"),
        ("Russia", "RUS"),
        ("the United States", "USA"),
        ("Iran", "IRN"),
        ("Burkina Faso", "BFA"),
        ("Moscow", None),  # a subdivision's name is not a country
        ("ExxonMobil", None),
    ],
)
def test_country_codes_come_from_pycountry(name: str, code: str | None) -> None:
    assert country_code(name) == code


def test_export_usage_errors_exit_2(tmp_path: Path, results: Path) -> None:
    missing = export(str(tmp_path / "nope.jsonl"), "--to", "csv")
    assert missing.exit_code == 2 and "no such file" in missing.output
    text = tmp_path / "article.txt"
    text.write_text("Just an article.\n")
    wrong = export(str(text), "--to", "csv")
    assert wrong.exit_code == 2 and "not a results file" in wrong.output
    excel = export(str(results), "--to", "parquet", "--excel")
    assert excel.exit_code == 2 and "--excel" in excel.output
    unknown = export(str(results), "--to", "xlsx")
    assert unknown.exit_code == 2


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_a_file_with_nothing_found_exports_every_format(tmp_path: Path, fmt: str) -> None:
    path = write_results(tmp_path / "empty.jsonl", [result("e1", title="Quiet day")])
    done = export(str(path), "--to", fmt, "-o", str(tmp_path / "out" / "empty"))
    assert done.exit_code == 0, done.output
    assert "1 article, 0 items" in done.output
    if fmt == "sqlite":  # the tables exist even when empty
        db = sqlite3.connect(tmp_path / "out" / "empty")
        assert db.execute("select count(*) from items").fetchone() == (0,)
