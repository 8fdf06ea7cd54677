"""The extraction contract (docs: spec/extraction.md) as Pydantic models.

These are the user-facing models: what `summarize` returns and what the gold files hold.
The smaller model the LLM fills lives in `extraction.py`; code builds these from it.
"""

from __future__ import annotations

import datetime as dt
import re
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

_ISO = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def blank_to_none(value: Any) -> Any:
    """Map empty strings and placeholder words to None."""
    if isinstance(value, str):
        value = " ".join(value.split())
        if value.strip(" .").lower() in PLACEHOLDERS:
            return None
    return value


def check_iso_date(value: str) -> str:
    """Accept YYYY, YYYY-MM or YYYY-MM-DD that name a real calendar date."""
    match = _ISO.match(value)
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


class Meeting(_Model):
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


class Agreement(_Model):
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


class Dispute(_Model):
    issue: Name
    kind: DisputeKind
    sides: list[Side] = Field(min_length=2)
    status: DisputeStatus
    evidence: EvidenceList


Item = Meeting | Agreement | Dispute


class ArticleSummary(_Model):
    id: str
    title: OptText = None
    published: dt.date | None = None
    summary: str
    meetings: list[Meeting] = Field(default_factory=list)
    agreements: list[Agreement] = Field(default_factory=list)
    disputes: list[Dispute] = Field(default_factory=list)

    def items(self) -> list[tuple[str, Item]]:
        """Every item with its kind, in output order."""
        return [
            *(("meeting", m) for m in self.meetings),
            *(("agreement", a) for a in self.agreements),
            *(("dispute", d) for d in self.disputes),
        ]


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
