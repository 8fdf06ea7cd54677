"""The strategy seam and the default "sentences" strategy, in the core suite (no extras).

The endpoint is the scripted OpenAI-protocol server; `support.scripted_model` plays a
deterministic model for the sentences strategy's overview, classify and items questions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from summarizer import strategies
from summarizer.chunking import Sentence
from summarizer.config import Config
from summarizer.errors import ConfigError
from summarizer.extraction import Overview
from summarizer.pipeline import Summarizer
from summarizer.strategies import TASK_TOKENS, Ask, Plan, combined, register
from tests.conftest import SEEDS
from tests.stub_server import Reply, StubServer
from tests.support import invoke, results_by_id, scripted_model, write_config

# Sentence 2 reports a meeting, 3 an agreement; 4 has a cue word ("talks") but reports
# nothing; 1 and 5 have no cue word and are never asked about.
TEXT = (
    "Ministers in Lisbon\n\n"
    "John Smith met Maria Lopez and Ana Costa in Lisbon on Monday. "
    "John Smith, Maria Lopez and Ana Costa signed a trade pact. "
    "Further talks were not ruled out. "
    "The weather was fine."
)


def schemas(stub: StubServer) -> list[str]:
    return [r["response_format"]["json_schema"]["name"] for r in stub.requests]


@pytest.fixture
def sentences_config(stub: StubServer, stub_config: Config) -> Config:
    stub.default = scripted_model
    return stub_config.model_copy(update={"strategy": "sentences"})


def test_sentences_asks_an_overview_then_about_each_cue_sentence(
    stub: StubServer, sentences_config: Config
) -> None:
    with Summarizer(sentences_config) as s:
        result = s.summarize(TEXT, id="lisbon")
    assert schemas(stub) == [
        "Overview",
        "SentenceReport",  # sentence 2: a meeting...
        "FoundMeetings",  # ...and its details
        "SentenceReport",  # sentence 3: an agreement...
        "FoundAgreements",
        "SentenceReport",  # sentence 4: nothing, so no follow-up
    ]
    asked = [
        int(re.findall(r"[Ss]entence \[(\d+)\]", r["messages"][-1]["content"])[-1])
        for r in stub.requests[1:]
    ]
    assert asked == [2, 2, 3, 3, 4]  # sentences 1 and 5 have no cue word
    [meeting] = result.summary.meetings
    assert [p.name for p in meeting.participants] == ["John Smith", "Maria Lopez", "Ana Costa"]
    assert meeting.evidence[0].quote.startswith("John Smith met Maria Lopez")
    [agreement] = result.summary.agreements
    assert (
        agreement.evidence[0].quote == "John Smith, Maria Lopez and Ana Costa signed a trade pact."
    )
    assert result.summary.summary.startswith("Report ")
    assert result.run.requests == 6 and not result.run.warnings


def test_sentences_result_is_reused_and_rebuilt_from_its_answers(
    stub: StubServer, sentences_config: Config
) -> None:
    with Summarizer(sentences_config) as s:
        first = s.summarize(TEXT, id="lisbon")
        again = s.summarize(TEXT, id="other id")  # a new result, from the kept answers
    assert len(stub.requests) == 6
    assert again.run.cache_hit
    assert [m.id for m in again.summary.meetings] == ["other id:meeting:0"]  # its own ids
    unnamed = {"id": None}
    assert [m.model_copy(update=unnamed) for m in again.summary.meetings] == [
        m.model_copy(update=unnamed) for m in first.summary.meetings
    ]


def test_a_failed_optional_question_costs_its_answer_not_the_article(
    stub: StubServer, sentences_config: Config
) -> None:
    """The meeting's details stay unusable (not JSON, every re-ask): the article keeps its
    other items, says what was lost, and is not kept whole, so a rerun asks again."""

    def details_fail(request: dict[str, Any]) -> Reply:
        if request["response_format"]["json_schema"]["name"] == "FoundMeetings":
            return Reply("I cannot answer that.")
        return scripted_model(request)

    stub.default = details_fail
    with Summarizer(sentences_config) as s:
        result = s.summarize(TEXT, id="lisbon")
        assert not result.summary.meetings and len(result.summary.agreements) == 1
        assert any(w.startswith("items request failed") for w in result.run.warnings)
        asked = len(stub.requests)
        s.summarize(TEXT, id="lisbon")
    # Only the failed question is asked again (with its re-asks); the rest come from the cache.
    assert set(schemas(stub)[asked:]) == {"FoundMeetings"}


def test_the_sentences_strategy_through_the_command_on_the_seeds(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = scripted_model
    config = write_config(tmp_path / "settings.toml", stub, strategy="sentences")
    out = tmp_path / "results.jsonl"
    done = invoke(config, str(SEEDS), "--out", str(out), "-q")
    assert done.exit_code == 0, done.output
    found = results_by_id(out)
    assert sorted(found) == sorted(p.stem for p in SEEDS.glob("*.txt"))
    assert sum(len(r.summary.meetings) + len(r.summary.agreements) for r in found.values())
    assert {"Overview", "SentenceReport", "FoundMeetings", "FoundAgreements"} <= set(schemas(stub))


@pytest.fixture
def overview_only() -> Iterator[str]:
    """A strategy added through the public seam: the overview and nothing else."""

    @register("overview-only")
    def plan(chunks: list[list[Sentence]]) -> Plan:
        overview: BaseModel | None = yield Ask(
            "overview", Overview, TASK_TOKENS["overview"], chunks[0]
        )
        assert isinstance(overview, Overview)
        return combined(overview, [])

    yield "overview-only"
    del strategies.STRATEGIES["overview-only"]


def test_a_registered_strategy_is_selectable_by_name(
    stub: StubServer, stub_config: Config, overview_only: str
) -> None:
    stub.default = scripted_model
    config = stub_config.model_copy(update={"strategy": overview_only})
    with Summarizer(config) as s:
        result = s.summarize(TEXT)
    assert schemas(stub) == ["Overview"]
    assert result.summary.summary.startswith("Report ") and not result.summary.items()
    assert Config.load(strategy=overview_only).strategy == overview_only


def test_a_strategy_name_is_registered_once(overview_only: str) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(overview_only)(strategies.article)


def test_an_unknown_strategy_is_refused_naming_the_known_ones(
    stub: StubServer, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"unknown strategy 'nope': use one of .*sentences"):
        Config.load(strategy="nope")
    with pytest.raises(KeyError, match="article"):
        strategies.get("nope")
    config = write_config(tmp_path / "settings.toml", stub)
    (tmp_path / "a.txt").write_text(TEXT)
    refused = invoke(config, str(tmp_path / "a.txt"), "--strategy", "nope")
    assert refused.exit_code == 2 and "unknown strategy 'nope'" in refused.stderr
    assert not stub.requests


def test_the_default_is_the_measured_best() -> None:
    """`article` scored at least as well as `checked` and `select` on seeds + dev (README)."""
    assert Config().strategy == "article"
