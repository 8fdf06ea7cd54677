"""The `windows` strategy: a few sentences at a time, each candidate item checked.

A 1.5B model asked for everything in an article at once lists a few items and stops; asked
about a window of a few sentences it lists that window's items far more completely. It also
reports what is not there (a monument as a participant, allies as opposing sides, a tariff
war as a deal), so each candidate gets one short yes/no question. Every request shows the
whole chunk after the same system prompt, so a local model reuses the KV cache of that
prefix: a window costs its question and its answer, a check one word. Nothing here looks
for words of one language: the model reads the article in whatever language it is.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar

from pydantic import BaseModel

from summarizer.chunking import Sentence, estimate_tokens
from summarizer.extraction import (
    Actor,
    CAgreement,
    CDispute,
    Check,
    CMeeting,
    FoundItems,
    Overview,
)
from summarizer.strategies import (
    MAX_OUTPUT_TOKENS,
    OUTPUT_TOKENS_PER_SENTENCE,
    TASK_TOKENS,
    Ask,
    Plan,
    combined,
    no_overview,
    register,
)

WINDOW_TOKENS = 300  # a few sentences: what a 1.5B model lists completely
WINDOW_BASE_TOKENS = 150  # an empty answer, with room for the actors of one item
CHECK_TOKENS = 12  # {"answer": "yes"} under the grammar, with room for whitespace

_ItemsT = TypeVar("_ItemsT", bound=BaseModel)


def windows(chunk: list[Sentence], asked: set[int]) -> list[list[Sentence]]:
    """The chunk's sentences not yet asked about, in consecutive runs of about
    WINDOW_TOKENS each (a chunk's overlap with the one before is asked about once)."""
    runs: list[list[Sentence]] = []
    current: list[Sentence] = []
    used = 0
    for sentence in chunk:
        if sentence.n in asked:
            continue
        cost = estimate_tokens(sentence.text) + 3
        if current and used + cost > WINDOW_TOKENS:
            runs.append(current)
            current, used = [], 0
        current.append(sentence)
        used += cost
    if current:
        runs.append(current)
    return runs


def window_ask(window: list[Sentence], chunk: list[Sentence], of: int | None = None) -> Ask:
    """The items of a few sentences, with the whole chunk shown for names, dates and places."""
    budget = min(MAX_OUTPUT_TOKENS, WINDOW_BASE_TOKENS + OUTPUT_TOKENS_PER_SENTENCE * len(window))
    about = {"first": window[0].n, "last": window[-1].n}
    return Ask("window", FoundItems, budget, chunk, example=True, vars=about, of=of)


def _who(names: list[str], actors: list[Actor]) -> str:
    """Names with the role and affiliation the extraction gave them, as the model wrote them."""
    by_name = {a.name: a for a in actors}
    out = []
    for name in names:
        actor = by_name.get(name)
        extra = [x for x in (actor.role, actor.of) if x] if actor else []
        out.append(f"{name} ({', '.join(extra)})" if extra else name)
    return "; ".join(out)


def claim(item: BaseModel, actors: list[Actor]) -> tuple[str, str]:
    """The kind word and the claim a check question asks the model to confirm."""
    if isinstance(item, CMeeting):
        tense = "will meet or hold talks" if item.status == "planned" else "met or held talks"
        return "meeting", f"{_who(item.who, actors)} {tense} with each other"
    if isinstance(item, CAgreement):
        return (
            "agreement",
            f"an agreement ({item.name}) is {item.status.replace('_', ' ')} between "
            f"{_who(item.parties, actors)}",
        )
    assert isinstance(item, CDispute)
    sides = " AGAINST ".join(f"[{_who(s.who, actors)}]" for s in item.sides)
    return "dispute", f"{sides} are opposing sides in a conflict or disagreement: {item.issue}"


def cited(item: BaseModel, sentences: list[Sentence]) -> str:
    """The text of the sentences an item cites, as the model saw them."""
    numbers = [e for e in getattr(item, "ev", []) if isinstance(e, int)]
    shown = {s.n: s for s in sentences}
    return " ".join(f"[{n}] {shown[n].text}" for n in numbers if n in shown) or "(none)"


def checked(
    answer: _ItemsT, sentences: list[Sentence], of: int | None = None
) -> Generator[Ask, BaseModel | None, _ItemsT]:
    """One yes/no question per item of an answer; the answer without the items the model
    rejected. An unanswered question keeps its item: only the model's own "no" drops one."""
    actors: list[Actor] = getattr(answer, "actors", [])
    kept: dict[str, list[BaseModel]] = {}
    for key in ("meetings", "agreements", "disputes"):
        if key not in type(answer).model_fields:
            continue
        kept[key] = []
        for item in getattr(answer, key):
            kind, text = claim(item, actors)
            about = {"kind": kind, "claim": text, "cited": cited(item, sentences)}
            verdict = yield Ask(
                "check", Check, CHECK_TOKENS, sentences, example=True, vars=about, of=of
            )
            if not isinstance(verdict, Check) or verdict.answer == "yes":
                kept[key].append(item)
    return answer.model_copy(update=kept)


def window_plan(chunks: list[list[Sentence]], *, check: bool = True) -> Plan:
    """An overview, then for each window its items, each checked (with `check`)."""
    asked: set[int] = set()
    plan: list[tuple[list[Sentence], list[Sentence]]] = []  # (chunk, window)
    for chunk in chunks:
        for window in windows(chunk, asked):
            asked.update(s.n for s in window)
            plan.append((chunk, window))
    expected = 1 + len(plan)  # the overview and the windows; each item found adds a check
    overview = yield Ask(
        "overview", Overview, TASK_TOKENS["overview"], chunks[0], example=True, of=expected
    )
    found: list[BaseModel] = []
    for chunk, window in plan:
        answer = yield window_ask(window, chunk, expected)
        if not isinstance(answer, FoundItems):
            continue  # a failed window costs its items, not the article
        if check:
            expected += sum(
                len(getattr(answer, key)) for key in ("meetings", "agreements", "disputes")
            )
            answer = yield from checked(answer, chunk, expected)
        found.append(answer)
    return combined(overview if isinstance(overview, Overview) else no_overview(), found)


@register("windows")
def windows_strategy(chunks: list[list[Sentence]]) -> Plan:
    """The default: windows of a few sentences, every candidate item checked."""
    return (yield from window_plan(chunks, check=True))
