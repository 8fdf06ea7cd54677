"""The model-facing response model: compact, cheap to generate, checked before it is accepted.

A CPU model writes ~12 tokens a second, so the model fills this small model (actors listed
once, items naming them, sentence numbers as evidence, dates as the article's own words)
and `resolve.py` builds the spec's `ArticleSummary` from it. The validators here catch the
mistakes small models make; in strict mode each becomes a re-ask with the error fed back,
in lenient mode (re-asks exhausted) the offending item is dropped with a warning.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from summarizer.chunking import Sentence
from summarizer.names import fold, name_words
from summarizer.schema import (
    AgreementStatus,
    Area,
    DisputeKind,
    DisputeStatus,
    MeetingStatus,
    OptText,
    PartyKind,
    blank_to_none,
)

EvidenceRefs = list[int | str]


class _Compact(BaseModel):
    # No defaults: every key is required, so a grammar-constrained model cannot skip one.
    model_config = ConfigDict(str_strip_whitespace=True)


class Actor(_Compact):
    name: str
    kind: PartyKind
    role: OptText
    of: OptText


class CMeeting(_Compact):
    who: list[str]
    when: OptText
    where: OptText
    status: MeetingStatus
    topics: list[str]
    outcome: OptText
    ev: EvidenceRefs


class CAgreement(_Compact):
    name: str
    parties: list[str]
    when: OptText
    status: AgreementStatus
    areas: list[Area]
    count: int | None
    about: OptText
    ev: EvidenceRefs


class CSide(_Compact):
    who: list[str]
    position: OptText


class CDispute(_Compact):
    issue: str
    kind: DisputeKind
    sides: list[CSide]
    status: DisputeStatus
    ev: EvidenceRefs


ITEM_MODELS: dict[str, type[_Compact]] = {
    "meetings": CMeeting,
    "agreements": CAgreement,
    "disputes": CDispute,
}


def item_actors(item: _Compact) -> list[str]:
    """Every actor name an item uses, in order."""
    if isinstance(item, CMeeting):
        return item.who
    if isinstance(item, CAgreement):
        return item.parties
    assert isinstance(item, CDispute)
    return [name for side in item.sides for name in side.who]


class Extraction(_Compact):
    """What the model writes for one article."""

    title: int | None
    dateline: OptText
    summary: str
    actors: list[Actor]
    meetings: list[CMeeting]
    agreements: list[CAgreement]
    disputes: list[CDispute]

    @model_validator(mode="before")
    @classmethod
    def _drop_malformed_items(cls, data: Any, info: ValidationInfo) -> Any:
        """In lenient mode, an item that does not even parse is dropped, not the article."""
        ctx = info.context or {}
        if not ctx.get("lenient") or not isinstance(data, dict):
            return data
        data = {"title": None, "dateline": None, "summary": "", "actors": [], **data}
        for key, model in ITEM_MODELS.items():
            kept = []
            for i, item in enumerate(data.get(key) or []):
                try:
                    model.model_validate(item)
                except ValueError as exc:
                    ctx.setdefault("warnings", []).append(
                        f"dropped {key}[{i}]: malformed ({str(exc).splitlines()[0]})"
                    )
                else:
                    kept.append(item)
            data[key] = kept
        return data

    @field_validator("summary")
    @classmethod
    def _summary_present(cls, value: str) -> str:
        if blank_to_none(value) is None:
            raise ValueError("summary must be one to three sentences, not empty")
        return value

    @model_validator(mode="after")
    def _check_items(self, info: ValidationInfo) -> Extraction:
        ctx = info.context or {}
        sentences: list[Sentence] = ctx.get("sentences", [])
        problems: list[str] = []
        for key in ITEM_MODELS:
            kept = []
            for i, item in enumerate(getattr(self, key)):
                item_problems = self._item_problems(item, sentences, soft=not ctx.get("lenient"))
                if not item_problems:
                    kept.append(item)
                    continue
                where = f"{key}[{i}]"
                problems.extend(f"{where}: {p}" for p in item_problems)
                if ctx.get("lenient"):
                    ctx.setdefault("warnings", []).extend(
                        f"dropped {where}: {p}" for p in item_problems
                    )
            setattr(self, key, kept)
        if problems and not ctx.get("lenient"):
            raise ValueError("; ".join(problems))
        return self

    def _item_problems(self, item: _Compact, sentences: list[Sentence], *, soft: bool) -> list[str]:
        """What is wrong with one item; `soft` adds the checks worth a re-ask but not a drop."""
        problems: list[str] = []
        names = [n for n in item_actors(item) if blank_to_none(n)]
        if isinstance(item, CMeeting) and len({fold(n) for n in names}) < 2:
            problems.append(
                "a meeting needs two or more participants in `who`: add every actor who "
                "took part (including the article's protagonist), or drop the item"
            )
        if isinstance(item, CDispute):
            sides = [{fold(n) for n in side.who if blank_to_none(n)} for side in item.sides]
            if sum(1 for s in sides if s) < 2:
                problems.append("a dispute needs two or more sides, each naming its actors")
            elif set.intersection(*[s for s in sides if s]):
                problems.append("the same actor stands on opposing sides of the dispute")
        if isinstance(item, CAgreement) and not names:
            problems.append("an agreement needs the parties it binds")
        ev = item.ev  # type: ignore[attr-defined]
        if not ev:
            problems.append("`ev` needs 1 to 3 sentence numbers that state the item")
        elif sentences:
            numbers = [e for e in ev if isinstance(e, int)]
            bad = [n for n in numbers if not 1 <= n <= len(sentences)]
            if bad:
                problems.append(
                    f"`ev` cites sentence {bad[0]}, but the article has sentences "
                    f"1 to {len(sentences)}"
                )
            elif (
                soft
                and numbers
                and len(numbers) == len(ev)
                and not self._mentions(names, numbers, sentences)
            ):
                problems.append(
                    f"sentences {numbers} do not mention any of {names}: cite the "
                    "sentences that report this item"
                )
        return problems

    def _mentions(self, names: list[str], numbers: list[int], sentences: list[Sentence]) -> bool:
        """Whether the cited sentences, or the one before each (for "the two leaders..."),
        name an actor by any name word or affiliation; 5-letter stems let "Russian" count
        for "Russia"."""
        window = {i for n in numbers for i in (n - 2, n - 1) if i >= 0}
        cited = _stems(" ".join(sentences[i].text for i in sorted(window)))
        by_name = {fold(a.name): a for a in self.actors}
        words: set[str] = set()
        for name in names:
            words |= name_words(name)
            actor = by_name.get(fold(name))
            if actor is not None:
                words |= name_words(actor.name)
                if actor.of:
                    words |= name_words(actor.of)
        return bool(_stems(" ".join(words)) & cited)


def _stems(text: str) -> set[str]:
    return {w[:5] for w in fold(text).split() if len(w) > 2}


def extraction_context(sentences: list[Sentence], *, lenient: bool = False) -> dict[str, Any]:
    """The validation context instructor passes to `Extraction` validators."""
    return {"sentences": sentences, "lenient": lenient, "warnings": []}
