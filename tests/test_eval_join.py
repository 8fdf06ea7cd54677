"""`summarizer eval --join`: the seeds as one long, chunked article against their joined gold."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from summarizer.eval.gold import load_gold
from summarizer.eval.joined import JOINED_ID, join_gold, join_texts
from summarizer.eval.scorer import score
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.grounding import locate
from tests.conftest import SEEDS
from tests.stub_server import Reply, StubServer

GOLD = Path(__file__).resolve().parent.parent / "eval" / "gold"
# Three seeds that report different events (the other two re-report two of them).
DISTINCT = ["000_629038d28f75d859", "002_e57f6a404244da71", "004_10b87bfb11a9e0ca"]
_NUMBERED = re.compile(r"^\[(\d+)\] (.*)$", re.MULTILINE)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def test_joined_gold_keeps_every_item_and_fits_the_joined_text() -> None:
    gold = load_gold(GOLD)
    joined = join_gold(list(gold.values()))
    for kind in ("meetings", "agreements", "disputes"):
        assert len(getattr(joined, kind)) == sum(len(getattr(g, kind)) for g in gold.values())
    for canonical, aliases in joined.aliases.items():  # merged, each alias once
        assert len(set(aliases)) == len(aliases)
        assert {a for g in gold.values() for a in g.aliases.get(canonical, [])} == set(aliases)
    text = join_texts([p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))])
    for _, item in joined.items():  # every quote still stands in the joined article
        for evidence in item.evidence:
            assert locate(text, evidence.quote) is not None
    assert score({JOINED_ID: joined}, {JOINED_ID: joined.as_summary()}).f1 == 1.0


def oracle(request: dict[str, Any]) -> Reply:
    """A model that reports each gold meeting whose quotes it is shown, citing them."""
    shown = _NUMBERED.findall(request["messages"][-1]["content"])
    meetings = []
    for article in load_gold(GOLD).values():
        for meeting in article.meetings:
            starts = [_fold(e.quote)[:40] for e in meeting.evidence]
            cited = [int(n) for n, line in shown if any(s in _fold(line) for s in starts)]
            if cited:
                meetings.append({
                    "ev": cited, "who": [p.name for p in meeting.participants],
                    "when": meeting.date, "where": None, "status": meeting.status, "topics": [],
                    "outcome": None,
                })  # fmt: skip
    return Reply({
        "title": None, "lang": "en", "dateline": None, "summary": "Meetings.", "actors": [],
        "meetings": meetings, "agreements": [], "disputes": [],
    })  # fmt: skip


@pytest.fixture
def distinct(tmp_path: Path) -> tuple[Path, Path]:
    """Inputs and gold folders holding the seeds that report different events."""
    inputs, gold = tmp_path / "inputs", tmp_path / "gold"
    inputs.mkdir()
    gold.mkdir()
    for article in DISTINCT:
        shutil.copy(SEEDS / f"{article}.txt", inputs)
        shutil.copy(GOLD / f"{article}.json", gold)
    return inputs, gold


def run_eval(stub: StubServer, tmp_path: Path, *extra: str) -> dict[str, Any]:
    config = tmp_path / "config.toml"
    config.write_text(
        'mode = "json_schema"\nstrategy = "article"\ncontext_tokens = 4800\n'
        f'cache_dir = "{tmp_path / "cache"}"\nmax_attempts = 2\ntimeout = 5\n',
        encoding="utf-8",
    )
    report = tmp_path / f"report{len(extra)}.json"
    result = CliRunner().invoke(
        app,
        ["eval", "--gold", str(tmp_path / "gold"), "--inputs", str(tmp_path / "inputs"),
         "--report", str(report),
         "--base-url", stub.base_url, "--model", "stub-model", *extra],
        env={"SUMMARIZER_CONFIG": str(config), "OPENAI_API_KEY": "sk-test", "COLUMNS": "300"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(report.read_text(encoding="utf-8"))


def test_a_chunked_joined_article_scores_as_well_as_its_pieces(
    stub: StubServer, tmp_path: Path, distinct: tuple[Path, Path]
) -> None:
    stub.default = oracle
    apart = run_eval(stub, tmp_path)
    asked_apart = _first_asks(stub)
    joined = run_eval(stub, tmp_path, "--join")
    chunks = _first_asks(stub) - asked_apart

    assert asked_apart == len(DISTINCT) and chunks >= 2  # one request per chunk
    meetings = joined["kinds"]["meeting"]["counts"]
    # Every meeting is found in some chunk and those in two chunks' overlap count once.
    assert meetings["fn"] == apart["kinds"]["meeting"]["counts"]["fn"] <= 1
    assert meetings["fp"] == 0 and meetings["tp"] >= 9
    assert joined["kinds"]["meeting"]["counts"]["f1"] == pytest.approx(
        apart["kinds"]["meeting"]["counts"]["f1"]
    )


def _first_asks(stub: StubServer) -> int:
    """Requests that are not re-asks (a re-ask carries the answer and the error back)."""
    return sum(len(r["messages"]) == 2 for r in stub.requests)


def test_join_cannot_record_a_baseline(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "--join", "--save-baseline"])
    assert result.exit_code == 2
    assert "a baseline is recorded on the articles apart" in " ".join(result.output.split())


def test_eval_reads_its_inputs_as_run_does_html_and_markdown_included(
    stub: StubServer, tmp_path: Path, distinct: tuple[Path, Path]
) -> None:
    """The same articles as a saved web page (navigation, footer) and as Markdown are
    scored as `summarizer run` reads them: the page's article text, not its markup."""
    stub.default = oracle
    as_text = run_eval(stub, tmp_path)
    inputs, _ = distinct
    page, notes = DISTINCT[0], DISTINCT[1]
    title, body = (inputs / f"{page}.txt").read_text(encoding="utf-8").split("\n", 1)
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n") if p.strip())
    (inputs / f"{page}.html").write_text(
        f"<html><head><title>{html.escape(title)}</title></head><body>"
        "<nav><a href='/'>Home</a> | <a href='/world'>World</a></nav>"
        f"<article><h1>{html.escape(title)}</h1>{paragraphs}</article>"
        "<footer>Contact us · Terms of use</footer></body></html>",
        encoding="utf-8",
    )
    (inputs / f"{page}.txt").unlink()
    (inputs / f"{notes}.txt").rename(inputs / f"{notes}.md")
    asked = len(stub.requests)

    as_read = run_eval(stub, tmp_path)
    assert as_read["articles"] == sorted(DISTINCT) and not as_read["missing_predictions"]
    sent = [r["messages"][-1]["content"] for r in stub.requests[asked:]]
    assert sent and not any("<p>" in s or "Terms of use" in s for s in sent)
    assert as_read["kinds"]["meeting"]["counts"] == as_text["kinds"]["meeting"]["counts"]
