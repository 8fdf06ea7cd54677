"""The `select` strategy: the model picks the sentences worth asking about, then each one is
asked about in detail and every item found is checked.

The per-sentence questions of `sentences` find far more than one request for the whole
article, but which sentences it asks about was decided by English cue words. Here one cheap
request lists, by number, the sentences that report a meeting, an agreement or a dispute,
so the selection reads any language the model reads. Each selected sentence then gets the
same focused items question, and each item a yes/no check (`checking.py`). All requests
share the system prompt and the chunk as their prefix, which a local model keeps cached.
"""

from __future__ import annotations

from pydantic import BaseModel

from summarizer.checking import checked
from summarizer.chunking import Sentence
from summarizer.extraction import FOUND, KIND_WORDS, Overview, Selected
from summarizer.strategies import (
    TASK_TOKENS,
    Ask,
    Expectation,
    Plan,
    anchored,
    combined,
    empty,
    register,
    with_meetings,
)

SELECT_TOKENS = 120  # three short lists of sentence numbers
_KINDS = {"meetings": "meeting", "agreements": "agreement", "disputes": "dispute"}


def reported(selected: Selected, chunk: list[Sentence]) -> dict[int, str]:
    """Each selected sentence of the chunk and what it reports ("several" for more than one
    kind); numbers outside the chunk are ignored."""
    shown = {s.n for s in chunk}
    kinds: dict[int, set[str]] = {}
    for key, kind in _KINDS.items():
        for n in getattr(selected, key):
            if n in shown:
                kinds.setdefault(n, set()).add(kind)
    return {n: k.pop() if len(k) == 1 else "several" for n, k in sorted(kinds.items())}


def select_plan(chunks: list[list[Sentence]], *, check: bool = True) -> Plan:
    """An overview, then per chunk: which sentences report something, their items, checks."""
    expected = 1 + len(chunks)  # the overview and a selection per chunk; the rest add to it
    # Required, as for `sentences`: an article without a valid overview has failed.
    overview = yield Ask(
        "overview", Overview, TASK_TOKENS["overview"], chunks[0], required=True, of=expected
    )
    assert isinstance(overview, Overview)
    found: list[BaseModel] = []
    asked: set[int] = set()  # a sentence in two chunks' overlap is asked about once
    for chunk in chunks:
        selected = yield Ask("select", Selected, SELECT_TOKENS, chunk, of=expected)
        if not isinstance(selected, Selected):
            continue  # a failed selection costs this chunk's items, not the article
        picks = {n: r for n, r in reported(selected, chunk).items() if n not in asked}
        asked.update(picks)
        expected += len(picks)
        text = {s.n: s.text for s in chunk}
        for n, report in picks.items():
            about = {"n": n, "sentence": text[n], "kinds": KIND_WORDS[report]}
            items = yield Ask(
                "items", FOUND[report], TASK_TOKENS["items"], chunk, vars=about, of=expected
            )
            if items is None:
                continue
            if check:
                expected += sum(len(getattr(items, k, [])) for k in _KINDS)
                items = yield from checked(items, chunk, expected, example=False)
            found.append(anchored(items, n))
    return combined(overview, found)


# A dry run's guess at what the selection picks: one sentence in five, each reporting one
# meeting that is then checked. On the five seeds 74 of 193 sentences carry a cue word and
# about half of those report something (`strategies.REPORTING_SHARE`). An estimate.
EXPECTED_PICK_EVERY = 5


def expect_select(ask: Ask, i: int) -> BaseModel | None:
    """A stand-in answer: every EXPECTED_PICK_EVERY-th sentence of a chunk is selected as
    reporting a meeting, and its items request finds one (a check changes no count)."""
    if ask.task == "select":
        picks = [s.n for s in ask.sentences[::EXPECTED_PICK_EVERY]]
        return Selected.model_construct(meetings=picks, agreements=[], disputes=[])
    if ask.task == "items":
        return with_meetings(empty(ask.model), 1, int(str(ask.vars["n"])))
    return empty(ask.model)


SELECT_EXPECTATION = Expectation(
    expect_select,
    frozenset({"items", "check"}),
    f"one sentence in {EXPECTED_PICK_EVERY} selected, with one item each, each checked",
)


@register("select", SELECT_EXPECTATION)
def select_strategy(chunks: list[list[Sentence]]) -> Plan:
    """The model selects the sentences; each is asked about, each item checked."""
    return (yield from select_plan(chunks, check=True))


@register("select-unchecked", SELECT_EXPECTATION)
def select_unchecked(chunks: list[list[Sentence]]) -> Plan:
    """`select` without the checks: every item the focused questions found."""
    return (yield from select_plan(chunks, check=False))
