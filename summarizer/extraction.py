"""The model-facing response model: compact, cheap to generate, checked before it is accepted.

A CPU model writes ~12 tokens a second, so the model fills this small model (actors listed
once, items naming them, sentence numbers as evidence, dates as the article's own words)
and `resolve.py` builds the spec's `ArticleSummary` from it. The validators here catch the
mistakes small models make; in strict mode each becomes a re-ask with the error fed back,
in lenient mode (re-asks exhausted) the offending item is dropped with a warning.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from summarizer.chunking import Sentence
from summarizer.names import fold, name_words, stems
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

# A citation written as text ("8", "[8]") is a sentence number, never a quote to search for:
# "8" would otherwise be "found" inside "80th" or "May 8".
_CITATION = re.compile(r"\s*\[?\s*(\d{1,5})\s*\]?\s*\.?\s*")


def _citations(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    refs = [
        int(m.group(1)) if isinstance(v, str) and (m := _CITATION.fullmatch(v)) else v
        for v in value
    ]
    return refs[:3]  # a 4th citation is no error


# Bounds become maxItems in the JSON schema, so a grammar stops a model that starts looping.
EvidenceRefs = Annotated[list[int | str], BeforeValidator(_citations), Field(max_length=3)]
Names = Annotated[list[str], Field(max_length=12)]

# The longest text the model may write: the summary (one to three sentences), and a name or a
# phrase in any other field. Longer is an invalid answer (re-asked); when re-asks run out the
# text is cut to the limit with a warning. Documented in docs/failure-modes.md.
SUMMARY_CHARS = 1000
TEXT_CHARS = 500


def _capped(key: str, value: Any, ctx: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_capped(key, v, ctx) for v in value]
    limit = SUMMARY_CHARS if key == "summary" else TEXT_CHARS
    if not isinstance(value, str) or len(value) <= limit:
        return value
    if not ctx.get("lenient"):
        raise ValueError(f"`{key}` has {len(value):,} characters; write at most {limit:,}")
    ctx.setdefault("warnings", []).append(
        f"cut `{key}` from {len(value):,} to {limit:,} characters"
    )
    return value[:limit]


class _Compact(BaseModel):
    # No defaults: every key is required, so a grammar-constrained model cannot skip one.
    model_config = ConfigDict(str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _cap_text(cls, data: Any, info: ValidationInfo) -> Any:
        """No field carries a page of text (a looping model, or one told to by the article)."""
        if not isinstance(data, dict):
            return data
        ctx = info.context if info.context is not None else {}
        return {key: _capped(key, value, ctx) for key, value in data.items()}


class Actor(_Compact):
    name: str
    kind: PartyKind
    role: OptText
    of: OptText


class CMeeting(_Compact):
    ev: EvidenceRefs  # first: the model anchors each item on its sentences, then fills it in
    who: Names
    when: OptText
    where: OptText
    status: MeetingStatus
    topics: Annotated[list[str], Field(max_length=6)]
    outcome: OptText


class CAgreement(_Compact):
    ev: EvidenceRefs
    name: str
    parties: Names
    when: OptText
    status: AgreementStatus
    areas: Annotated[list[Area], Field(max_length=6)]
    count: int | None
    about: OptText


class CSide(_Compact):
    who: Names
    position: OptText


class CDispute(_Compact):
    ev: EvidenceRefs
    issue: str
    kind: DisputeKind
    sides: Annotated[list[CSide], Field(max_length=4)]
    status: DisputeStatus


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


class _Items(_Compact):
    """Any answer that carries items: the checks apply to whichever item lists it has."""

    @model_validator(mode="before")
    @classmethod
    def _drop_malformed_items(cls, data: Any, info: ValidationInfo) -> Any:
        """In lenient mode, an item that does not even parse is dropped, not the article."""
        ctx = info.context or {}
        if not ctx.get("lenient") or not isinstance(data, dict):
            return data
        lists = {"actors", *ITEM_MODELS}
        defaults = {k: [] if k in lists else None for k in cls.model_fields} | {"summary": ""}
        data = defaults | {k: v for k, v in data.items() if v is not None}
        for key, model in ITEM_MODELS.items():
            if key not in cls.model_fields:
                continue
            kept = []
            for i, item in enumerate(data.get(key) or []):
                try:
                    model.model_validate(item, context={"lenient": True})  # parses at all
                except ValueError as exc:
                    ctx.setdefault("warnings", []).append(
                        f"dropped {key}[{i}]: malformed ({str(exc).splitlines()[0]})"
                    )
                else:
                    kept.append(item)
            data[key] = kept
        return data

    @model_validator(mode="after")
    def _check_items(self, info: ValidationInfo) -> _Items:
        ctx = info.context or {}
        sentences: list[Sentence] = ctx.get("sentences", [])
        problems: list[str] = []
        for key in ITEM_MODELS:
            if key not in type(self).model_fields:
                continue
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
        cited = stems(" ".join(sentences[i].text for i in sorted(window)))
        by_name = {fold(a.name): a for a in getattr(self, "actors", [])}
        words: set[str] = set()
        for name in names:
            words |= name_words(name)
            actor = by_name.get(fold(name))
            if actor is not None:
                words |= name_words(actor.name)
                if actor.of:
                    words |= name_words(actor.of)
        return bool(stems(" ".join(words)) & cited)


def _summary_present(value: str, info: ValidationInfo) -> str:
    if blank_to_none(value) is None and not (info.context or {}).get("lenient"):
        raise ValueError("summary must be one to three sentences, not empty")
    return value


Summary = Annotated[str, AfterValidator(_summary_present)]
# The article's language (ISO 639-1, "es"), so its date words are read in that language.
# maxLength only bounds the grammar: a runtime length check would reject null, and the
# validator keeps two letters anyway ("English" -> "en").
Lang = Annotated[
    str | None,
    BeforeValidator(lambda v: v.strip().lower()[:2] or None if isinstance(v, str) else v),
    Field(json_schema_extra={"maxLength": 8}),
]
Actors = Annotated[list[Actor], Field(max_length=40)]


class Extraction(_Items):
    """Everything about one article in one answer (the `article` strategy)."""

    title: int | None
    lang: Lang
    dateline: OptText
    summary: Summary
    actors: Actors
    meetings: Annotated[list[CMeeting], Field(max_length=30)]
    agreements: Annotated[list[CAgreement], Field(max_length=20)]
    disputes: Annotated[list[CDispute], Field(max_length=15)]


class Overview(_Compact):
    """Title, dateline and summary (the `sentences` strategy asks for these once)."""

    title: int | None
    lang: Lang
    dateline: OptText
    summary: Summary


class SentenceReport(_Compact):
    """What one sentence reports: a cheap question before asking for details."""

    reports: Literal["meeting", "agreement", "dispute", "several", "nothing"]


SentenceNumbers = Annotated[list[int], Field(max_length=12)]


class Selected(_Compact):
    """Which sentences report each kind of item: the model's own reading, in any language,
    of where to ask for details (the `select` strategy)."""

    meetings: SentenceNumbers
    agreements: SentenceNumbers
    disputes: SentenceNumbers


class Check(_Compact):
    """The answer to one yes/no question about a candidate item."""

    answer: Literal["yes", "no"]


# The grammar must produce an item once the model said the sentence reports one, but an
# answer whose items were all dropped (lenient salvage) is still a valid, empty answer.
AT_LEAST_ONE = {"minItems": 1}


class FoundMeetings(_Items):
    actors: Actors
    meetings: Annotated[list[CMeeting], Field(max_length=6, json_schema_extra=AT_LEAST_ONE)]


class FoundAgreements(_Items):
    actors: Actors
    agreements: Annotated[list[CAgreement], Field(max_length=4, json_schema_extra=AT_LEAST_ONE)]


class FoundDisputes(_Items):
    actors: Actors
    disputes: Annotated[list[CDispute], Field(max_length=3, json_schema_extra=AT_LEAST_ONE)]


class FoundItems(_Items):
    actors: Actors
    meetings: Annotated[list[CMeeting], Field(max_length=6)]
    agreements: Annotated[list[CAgreement], Field(max_length=4)]
    disputes: Annotated[list[CDispute], Field(max_length=3)]


KIND_WORDS = {
    "meeting": "meetings",
    "agreement": "agreements",
    "dispute": "disputes",
    "several": "meetings, agreements and disputes",
}
FOUND: dict[str, type[_Items]] = {
    "meeting": FoundMeetings,
    "agreement": FoundAgreements,
    "dispute": FoundDisputes,
    "several": FoundItems,
}


def extraction_context(sentences: list[Sentence], *, lenient: bool = False) -> dict[str, Any]:
    """The validation context instructor passes to the validators here."""
    return {"sentences": sentences, "lenient": lenient, "warnings": []}
