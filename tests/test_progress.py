"""Signs of life: questions asked inside an article, tokens so far, a labelled ETA, and what
`--verbose` says of each article, with the sentences strategy against the scripted server."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from summarizer.batch import Asking, BatchReport, Event, Started, Succeeded, run_batch
from summarizer.config import Config
from summarizer.inputs import scan_inputs
from summarizer.pipeline import Summarizer
from summarizer.tally import Asked
from summarizer.terminal import BatchView
from tests.stub_server import Reply, StubServer
from tests.support import invoke, scripted_model, story, write_config, write_stories


def test_every_question_is_reported_with_how_many_are_expected(
    stub: StubServer, stub_config: Config, tmp_path: Path
) -> None:
    stub.default = scripted_model
    write_stories(tmp_path / "in", 2)
    events: list[Event] = []
    config = stub_config.model_copy(update={"strategy": "sentences", "max_reasks": 0})
    with Summarizer(config) as summarizer:
        report = run_batch(
            scan_inputs([str(tmp_path / "in")]),
            summarizer,
            tmp_path / "results.jsonl",
            concurrency=1,
            on_event=events.append,
        )
    assert report.done == 2
    for id in ("s00", "s01"):
        asked = [e.asked for e in events if isinstance(e, Asking) and e.id == id]
        [done] = [e for e in events if isinstance(e, Succeeded) and e.id == id]
        assert [a.asked for a in asked] == list(range(1, len(asked) + 1))
        assert all(a.asked <= a.of for a in asked)
        assert asked[-1].of == asked[-1].asked == done.result.run.requests  # all were asked
        assert asked[0].of > 1  # known from the start: the overview and one per cue sentence
        tokens = [a.tokens for a in asked]
        assert tokens == sorted(tokens)
        assert tokens[-1] == done.result.run.prompt_tokens + done.result.run.completion_tokens
        # Every question's event comes before the article's own.
        last = max(i for i, e in enumerate(events) if isinstance(e, Asking) and e.id == id)
        assert events.index(done) > last


def test_the_bar_shows_questions_tokens_and_a_labelled_eta() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160)
    with BatchView(console) as view:
        view(Started(3))
        view(Asking("s01", Asked(4, 9, 1_234)))
        assert view.stats() == "1,234 tokens · 0 cached · 0 failed · s01: question 4/9"
        view.bar.refresh()
    shown = screen.getvalue()
    assert "ETA" in shown and "question 4/9" in shown and "1,234 tokens" in shown
    report = BatchReport(done=1, prompt_tokens=2_000, completion_tokens=500)
    quiet = BatchView(Console(file=io.StringIO()), quiet=True)
    quiet(Asking("s02", Asked(1, 5, 100)))
    quiet._advance(report)
    assert quiet.stats() == "2,600 tokens · 0 cached · 0 failed · s02: question 1/5"


def test_verbose_says_warnings_and_why_an_article_is_empty(
    stub: StubServer, tmp_path: Path
) -> None:
    """The first classification fails, the others find nothing: fewer than half the
    questions failed (FAILED_SHARE), so the article is written empty, and --verbose says why."""
    failed: list[dict[str, Any]] = []

    def first_classify_fails(request: dict[str, Any]) -> Reply:
        if request["response_format"]["json_schema"]["name"] != "SentenceReport":
            return scripted_model(request)
        if not failed:
            failed.append(request)
            return Reply("not JSON at all")
        return Reply({"reports": "nothing"})

    stub.default = first_classify_fails
    config = write_config(tmp_path / "settings.toml", stub, strategy="sentences", max_reasks=0)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "s00.txt").write_text(story(0), encoding="utf-8")
    result = invoke(config, str(tmp_path / "in"), "--out", str(tmp_path / "r.jsonl"), "-v")
    lines = result.stderr.splitlines()
    [ok] = [line for line in lines if line.startswith("ok s00:")]
    assert "0 meetings, 0 agreements, 0 disputes" in ok
    schemas = [r["response_format"]["json_schema"]["name"] for r in stub.requests]
    asked = schemas.count("SentenceReport")
    assert asked > 1
    assert "1 warning)" in ok  # one per failed question
    [why] = [line for line in lines if "is empty because" in line]
    assert "because 1 question failed" in why
    assert "classify request failed" in why


def test_verbose_counts_warnings_of_a_good_article(stub: StubServer, tmp_path: Path) -> None:
    stub.default = scripted_model
    config = write_config(tmp_path / "settings.toml", stub, strategy="sentences")
    write_stories(tmp_path / "in", 1)
    result = invoke(config, str(tmp_path / "in"), "--out", str(tmp_path / "r.jsonl"), "-v")
    [ok] = [line for line in result.stderr.splitlines() if line.startswith("ok s00:")]
    warnings = json.loads((tmp_path / "r.jsonl").read_text())["run"]["warnings"]
    assert ok.endswith(f"tokens, {len(warnings)} warning{'' if len(warnings) == 1 else 's'})")
    assert "is empty because" not in result.stderr
