"""The `checked` strategy: the article in one request, then a yes/no question per item.

A 1.5B model asked for everything in an article at once reports some of what is not there:
a monument as a participant, allies as opposing sides, a tariff war as a deal. Each
candidate item gets one short question, asked after the extraction with the same system
prompt and article, so a local model reuses the KV cache of that prefix and a check costs
its question and one word; a "no" drops the item. Nothing here looks for words of one
language: the model reads the article in whatever language it is.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar

from pydantic import BaseModel

from summarizer.chunking import Sentence
from summarizer.extraction import Actor, CAgreement, CDispute, Check, CMeeting, Extraction
from summarizer.strategies import (
    Ask,
    Expectation,
    Plan,
    article_asks,
    empty,
    joined,
    register,
    with_meetings,
)

CHECK_TOKENS = 12  # {"answer": "yes"} under the grammar, with room for whitespace

_ItemsT = TypeVar("_ItemsT", bound=BaseModel)


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
    answer: _ItemsT, sentences: list[Sentence], of: int | None = None, *, example: bool = True
) -> Generator[Ask, BaseModel | None, _ItemsT]:
    """One yes/no question per item of an answer; the answer without the items the model
    rejected. An unanswered question keeps its item: only the model's own "no" drops one.
    `example` must match the asks before it, so the checks share their cached prefix."""
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
                "check", Check, CHECK_TOKENS, sentences, example=example, vars=about, of=of
            )
            if not isinstance(verdict, Check) or verdict.answer == "yes":
                kept[key].append(item)
    return answer.model_copy(update=kept)


# A dry run's guess at what one whole-chunk request finds: two items, each then checked.
# On the five seeds the one-request `article` strategy answered 10 items (7 right, 3 wrong;
# bench/RESULTS.md, section 5). An estimate from five English articles.
EXPECTED_ITEMS_PER_CHUNK = 2


def expect_checked(ask: Ask, i: int) -> BaseModel | None:
    """A stand-in answer: each chunk's extraction finds EXPECTED_ITEMS_PER_CHUNK meetings
    (a check's answer changes no count)."""
    if ask.task != "article":
        return empty(ask.model)
    return with_meetings(empty(Extraction), EXPECTED_ITEMS_PER_CHUNK, ask.sentences[0].n)


@register(
    "checked",
    Expectation(
        expect_checked,
        frozenset({"check"}),
        f"{EXPECTED_ITEMS_PER_CHUNK} items found in each chunk, each checked",
    ),
)
def checked_strategy(chunks: list[list[Sentence]]) -> Plan:
    """The default: each chunk in one request, then every item it found checked."""
    parts: list[Extraction] = []
    expected = len(chunks)  # the extractions; each item found adds a check
    for ask in article_asks(chunks):
        answer = yield ask
        assert isinstance(answer, Extraction)
        expected += len(answer.meetings) + len(answer.agreements) + len(answer.disputes)
        parts.append((yield from checked(answer, ask.sentences, expected)))
    return joined(parts)
