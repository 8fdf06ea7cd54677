"""The extraction contract (docs: spec/extraction.md) as Pydantic models.

These are the user-facing models: what `summarize` returns and what the gold files hold.
The smaller model the LLM fills lives in `extraction.py`; code builds these from it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

PartyKind = Literal["person", "organization", "country", "group"]
MeetingStatus = Literal["held", "planned"]
AgreementStatus = Literal["proposed", "negotiating", "signed", "in_force", "terminated"]
Area = Literal[
    "energy",
    "mining",
    "defense",
    "security",
    "trade",
    "finance",
    "transport",
    "health",
    "education",
    "technology",
    "agriculture",
    "culture",
    "humanitarian",
    "other",
]
DisputeKind = Literal[
    "military",
    "political",
    "electoral",
    "territorial",
    "trade",
    "legal",
    "diplomatic",
    "labor",
    "other",
]
DisputeStatus = Literal["ongoing", "resolved"]

AREAS: tuple[str, ...] = Area.__args__  # type: ignore[attr-defined]

# Words small models put where they mean "nothing": they must never reach the output.
PLACEHOLDERS = frozenset(
    {
        "",
        "unknown",
        "none",
        "null",
        "n/a",
        "na",
        "not specified",
        "unspecified",
        "not given",
        "not mentioned",
        "not stated",
        "tbd",
        "-",
        "?",
    }
)

ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def blank_to_none(value: Any) -> Any:
    """Map empty strings and placeholder words to None."""
    if isinstance(value, str):
        value = " ".join(value.split())
        if value.strip(" .").lower() in PLACEHOLDERS:
            return None
    return value


def check_iso_date(value: str) -> str:
    """Accept YYYY, YYYY-MM or YYYY-MM-DD that name a real calendar date."""
    match = ISO_DATE.match(value)
    if not match:
        raise ValueError(f"date {value!r} is not ISO 8601 YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = (int(g) if g else 1 for g in match.groups())
    try:
        dt.date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"date {value!r} is not a calendar date: {exc}") from None
    return value


OptText = Annotated[str | None, BeforeValidator(blank_to_none)]
IsoDate = Annotated[str, AfterValidator(check_iso_date)]
OptIsoDate = Annotated[IsoDate | None, BeforeValidator(blank_to_none)]
Name = Annotated[str, BeforeValidator(blank_to_none), Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Party(_Model):
    name: Name
    kind: PartyKind
    role: OptText = None
    affiliation: OptText = None


class Evidence(_Model):
    """A verbatim quote and where it stands in the article (character offsets, end exclusive)."""

    quote: str = Field(min_length=1)
    start: int | None = Field(default=None, ge=0)
    end: int | None = Field(default=None, ge=0)
    grounded: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        # Gold files write evidence as bare quotes.
        return {"quote": value} if isinstance(value, str) else value


EvidenceList = Annotated[list[Evidence], Field(min_length=1, max_length=3)]


def _distinct_names(parties: list[Party], what: str, minimum: int) -> list[Party]:
    names = {p.name.casefold() for p in parties}
    if len(names) < minimum:
        raise ValueError(f"{what} needs at least {minimum} distinct parties, got {len(names)}")
    return parties


ItemKind = Literal["meeting", "agreement", "dispute"]
KINDS: tuple[ItemKind, ...] = ("meeting", "agreement", "dispute")


class _Item(_Model):
    """What every kind of item carries: its id in the results, "<article id>:<kind>:<n>"
    (n counts from 0 within the kind), so other files (corpus.json) can point at it. Kept
    out of the JSON schema: the model never sees it and the prompt version ignores it."""

    id: SkipJsonSchema[str | None] = None


class Meeting(_Item):
    participants: list[Party]
    date: OptIsoDate = None
    location: OptText = None
    status: MeetingStatus
    topics: list[str] = Field(default_factory=list)
    outcome: OptText = None
    evidence: EvidenceList

    @field_validator("participants")
    @classmethod
    def _two_participants(cls, value: list[Party]) -> list[Party]:
        return _distinct_names(value, "a meeting", 2)


class Agreement(_Item):
    name: Name
    parties: list[Party] = Field(min_length=1)
    date: OptIsoDate = None
    status: AgreementStatus
    areas: list[Area] = Field(default_factory=list)
    count: int | None = Field(default=None, ge=1)
    description: OptText = None
    evidence: EvidenceList


class Side(_Model):
    parties: list[Party] = Field(min_length=1)
    position: OptText = None


class Dispute(_Item):
    issue: Name
    kind: DisputeKind
    sides: list[Side] = Field(min_length=2)
    status: DisputeStatus
    evidence: EvidenceList


Item = Meeting | Agreement | Dispute


def parties(item: Item) -> list[Party]:
    """Everyone an item involves, in order; a dispute's sides flattened into one list."""
    match item:
        case Meeting():
            return item.participants
        case Agreement():
            return item.parties
        case Dispute():
            return [p for side in item.sides for p in side.parties]


class ArticleSummary(_Model):
    id: str
    title: OptText = None
    published: dt.date | None = None
    url: OptText = None  # where the article was read from, when the input said
    summary: str
    meetings: list[Meeting] = Field(default_factory=list)
    agreements: list[Agreement] = Field(default_factory=list)
    disputes: list[Dispute] = Field(default_factory=list)

    def by_kind(self) -> list[tuple[ItemKind, Sequence[Item]]]:
        """The item lists, one per kind, in output order."""
        return [
            ("meeting", self.meetings),
            ("agreement", self.agreements),
            ("dispute", self.disputes),
        ]

    def items(self) -> list[tuple[ItemKind, Item]]:
        """Every item with its kind, in output order."""
        return [(kind, item) for kind, items in self.by_kind() for item in items]

    def with_item_ids(self) -> ArticleSummary:
        """A copy whose items carry their ids as they stand now (after merging)."""
        return self.model_copy(
            update={
                f"{kind}s": [
                    item.model_copy(update={"id": f"{self.id}:{kind}:{n}"})
                    for n, item in enumerate(items)
                ]
                for kind, items in self.by_kind()
            }
        )

    @model_validator(mode="after")
    def _item_ids(self) -> ArticleSummary:
        """Items read without ids (gold files, results from before ids) get theirs."""
        for kind, items in self.by_kind():
            for n, item in enumerate(items):
                if item.id is None:
                    item.id = f"{self.id}:{kind}:{n}"
        return self


class RunInfo(_Model):
    """How a summary was made: travels beside the facts, never inside them."""

    model: str
    endpoint: str
    prompt_version: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cache_hit: bool = False
    reasks: int = 0
    requests: int = 0
    chunks: int = 1
    warnings: list[str] = Field(default_factory=list)
    created: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))


class Result(_Model):
    summary: ArticleSummary
    run: RunInfo

    @property
    def id(self) -> str:
        return self.summary.id
