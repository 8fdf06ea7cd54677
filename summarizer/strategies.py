"""Strategies: how an article is asked about. The public seam for changing that.

A strategy is a generator function that takes the article's chunks (lists of numbered
sentences; one chunk unless the article is long) and *plans* its requests: it yields an
`Ask` (a task prompt, the response model to fill, an output budget, the sentences shown),
receives the validated answer (or None when an optional ask failed), may decide its next
ask from it, and finally returns one `Extraction`. An article fails when a `required` ask
fails or when half or more of its asks do (`tally.FAILED_SHARE`). The pipeline does
everything else: prompts, the cache, the model, retries, resolution, grounding and
merging; a strategy never sees a client.

Adding one takes one file and its registration:

    # summarizer/my_strategy.py
    from summarizer.strategies import TASK_TOKENS, Ask, Plan, combined, register

    @register("mine")
    def mine(chunks):
        overview = yield Ask("overview", Overview, TASK_TOKENS["overview"], chunks[0])
        ...
        return combined(overview, found)

and its module name added to `MODULES` below, so `strategy = "mine"` (config, environment
or `--strategy mine`) finds it. Code outside the package (bench/, tests) may call
`register` directly. A task name `t` reads its prompt from `prompts/task_t.txt`.

`--dry-run` drives a plan without a model: every ask is answered by the strategy's
`Expectation` (given as `register(name, expect=...)`), a stand-in for what a model usually
answers. A strategy whose later asks depend on answers (items found, sentences that report
something) says what it expects and which tasks those asks are, so the dry run counts them
as estimates; without one, every ask gets an empty answer and only the asks made whatever
the model answers are counted.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import get_origin

from pydantic import BaseModel

from summarizer.chunking import Sentence
from summarizer.extraction import (
    FOUND,
    KIND_WORDS,
    Actor,
    CMeeting,
    Extraction,
    Overview,
    SentenceReport,
)
from summarizer.prompts import cue_sentences

# Output budgets: generation dominates the cost on a CPU, and a cap stops a looping model.
BASE_OUTPUT_TOKENS = 400
OUTPUT_TOKENS_PER_SENTENCE = 24
MAX_OUTPUT_TOKENS = 4096
TASK_TOKENS = {"overview": 200, "classify": 16, "items": 700}


@dataclass
class Ask:
    """One request of a plan: a task prompt, the model to fill, an output budget."""

    task: str
    model: type[BaseModel]
    max_tokens: int
    sentences: list[Sentence]  # the part of the article the request shows (a chunk or all)
    example: bool = False
    required: bool = False  # without its answer the article fails (with the raw answer kept)
    vars: dict[str, object] = field(default_factory=dict)
    of: int | None = None  # how many asks the plan expects in all, as far as it knows yet


Plan = Generator[Ask, BaseModel | None, Extraction]
Strategy = Callable[[list[list[Sentence]]], Plan]


def empty(model: type[BaseModel]) -> BaseModel:
    """An answer that finds nothing: every list empty, everything else unset."""
    return model.model_construct(
        **{
            name: [] if get_origin(f.annotation) is list else None
            for name, f in model.model_fields.items()
        }
    )


def with_meetings(answer: BaseModel, count: int, ev: int) -> BaseModel:
    """A stand-in answer carrying `count` meetings of two people, citing sentence `ev`."""
    who = ["Person One", "Person Two"]
    meeting = CMeeting.model_construct(
        who=who, when=None, where=None, status="held", topics=[], outcome=None, ev=[ev]
    )
    actors = [Actor.model_construct(name=n, kind="person", role=None, of=None) for n in who]
    return answer.model_copy(update={"actors": actors, "meetings": [meeting] * count})


def nothing_found(ask: Ask, i: int) -> BaseModel:
    """The stand-in answer of a strategy that registered no expectation."""
    return empty(ask.model)


@dataclass(frozen=True)
class Expectation:
    """What a dry run assumes the model answers: estimates, not measurements.

    `answer(ask, i)` is the stand-in answer to the i-th ask (from 0) of the ask's task in
    one article; `follow_ups` are the tasks asked only because of an earlier answer, whose
    requests a dry run counts as estimated; `assumes` says what is assumed, for the user.
    """

    answer: Callable[[Ask, int], BaseModel | None] = nothing_found
    follow_ups: frozenset[str] = frozenset()
    assumes: str = ""


STRATEGIES: dict[str, Strategy] = {}
EXPECTATIONS: dict[str, Expectation] = {}
# Package modules that register strategies of their own, imported on first lookup.
MODULES: tuple[str, ...] = ("summarizer.checking", "summarizer.selecting")


def register(name: str, expect: Expectation | None = None) -> Callable[[Strategy], Strategy]:
    """Make a strategy selectable as `strategy = name`; a name is registered once. `expect`
    answers its asks in a dry run (default: every answer finds nothing)."""

    def add(plan: Strategy) -> Strategy:
        if STRATEGIES.get(name, plan) is not plan:
            raise ValueError(f"strategy {name!r} is already registered")
        STRATEGIES[name] = plan
        EXPECTATIONS[name] = expect or Expectation()
        return plan

    return add


def names() -> list[str]:
    """Every registered strategy's name, the package's own modules loaded first."""
    for module in MODULES:
        importlib.import_module(module)
    return list(STRATEGIES)


def get(name: str) -> Strategy:
    """The strategy registered as `name`; KeyError names the known ones."""
    known = names()
    if name not in STRATEGIES:
        raise KeyError(f"unknown strategy {name!r}: use one of {', '.join(known)}")
    return STRATEGIES[name]


def expectation(name: str) -> Expectation:
    """What a dry run assumes the strategy `name`'s model answers."""
    get(name)
    return EXPECTATIONS[name]


def combined(overview: Overview, parts: list[BaseModel]) -> Extraction:
    """One extraction from an overview and the answers that carry items."""
    return Extraction.model_construct(
        title=overview.title,
        lang=overview.lang,
        dateline=overview.dateline,
        summary=overview.summary,
        actors=[a for p in parts for a in getattr(p, "actors", [])],
        meetings=[m for p in parts for m in getattr(p, "meetings", [])],
        agreements=[a for p in parts for a in getattr(p, "agreements", [])],
        disputes=[d for p in parts for d in getattr(p, "disputes", [])],
    )


def article_asks(chunks: list[list[Sentence]]) -> list[Ask]:
    """One request per chunk, none depending on another's answer (what the Batch API can
    send at once)."""
    return [
        Ask(
            "article",
            Extraction,
            min(MAX_OUTPUT_TOKENS, BASE_OUTPUT_TOKENS + OUTPUT_TOKENS_PER_SENTENCE * len(chunk)),
            chunk,
            example=True,
            required=True,
            of=len(chunks),
        )
        for chunk in chunks
    ]


@register("article")
def article(chunks: list[list[Sentence]]) -> Plan:
    """Everything in one request per chunk: cheapest in calls, weakest in recall on small
    models."""
    parts: list[Extraction] = []
    for ask in article_asks(chunks):
        answer = yield ask
        assert isinstance(answer, Extraction)
        parts.append(answer)
    return joined(parts)


def joined(parts: list[Extraction]) -> Extraction:
    """The chunks' whole-article answers as one: the first chunk's title, dateline and
    summary, every chunk's items."""
    first = parts[0]
    overview = Overview.model_construct(  # already validated (or salvaged) as part of `first`
        title=first.title, lang=first.lang, dateline=first.dateline, summary=first.summary
    )
    return combined(overview, parts)


# About half of the cue sentences report something: on the five seeds the `sentences`
# strategy kept 33 items (bench/RESULTS.md, section 5) from 74 cue sentences, and each
# items request adds at least one item. An estimate from five English articles.
REPORTING_SHARE = 0.5


def expect_sentences(ask: Ask, i: int) -> BaseModel | None:
    """A stand-in answer for `sentences`: REPORTING_SHARE of the cue sentences, spread
    evenly, report a meeting (so their items requests are counted), the others nothing."""
    if ask.task == "classify":
        reports = int((i + 1) * REPORTING_SHARE) > int(i * REPORTING_SHARE)
        return SentenceReport.model_construct(reports="meeting" if reports else "nothing")
    return empty(ask.model)


@register(
    "sentences",
    Expectation(
        expect_sentences,
        frozenset({"items"}),
        f"{REPORTING_SHARE:.0%} of the cue sentences report something",
    ),
)
def sentences(chunks: list[list[Sentence]]) -> Plan:
    """An overview, then for each candidate sentence: what does it report, then the details.

    Small models miss most items when asked for everything at once but answer a focused
    question well; the shared article prefix keeps each follow-up question cheap. A long
    article is read chunk by chunk; a sentence in two chunks' overlap is asked about once.
    """
    cues: dict[int, tuple[list[Sentence], Sentence]] = {}
    for chunk in chunks:  # a sentence in two chunks' overlap is asked about once, first chunk
        for s in cue_sentences(chunk):
            cues.setdefault(s.n, (chunk, s))
    expected = 1 + len(cues)  # the overview and a question per cue; follow-ups add to it
    # Required: an article without a valid overview (an empty object is none) has failed.
    overview = yield Ask(
        "overview", Overview, TASK_TOKENS["overview"], chunks[0], required=True, of=expected
    )
    assert isinstance(overview, Overview)
    found: list[BaseModel] = []
    for chunk, s in cues.values():
        about = {"n": s.n, "sentence": s.text}
        report = yield Ask(
            "classify", SentenceReport, TASK_TOKENS["classify"], chunk, vars=about, of=expected
        )
        if not isinstance(report, SentenceReport) or report.reports == "nothing":
            continue
        expected += 1
        items = yield Ask(
            "items",
            FOUND[report.reports],
            TASK_TOKENS["items"],
            chunk,
            vars={**about, "kinds": KIND_WORDS[report.reports]},
            of=expected,
        )
        if items is not None:
            found.append(anchored(items, s.n))
    return combined(overview, found)


def anchored(found: BaseModel, n: int) -> BaseModel:
    """Every item found for sentence n cites sentence n first."""
    for key in ("meetings", "agreements", "disputes"):
        for item in getattr(found, key, []):
            item.ev = [n, *[e for e in item.ev if e != n]][:3]
    return found
