"""The corpus view: link items across articles into real-world events, laid on a timeline.

Several outlets report the same talks or the same treaty. `link` keeps one `Event` per
occasion, with every source article and its quotes, and keeps the details the sources
disagree on side by side instead of picking one.

Linking rule (no LLM). Two items of the same kind from different articles may report the
same occasion only when all of these gates hold:
- parties overlap: more than `MIN_OVERLAP` (half) of the shorter party list pairs off
  one-to-one with the other's under `merge.same_party`; for agreements and disputes a person
  also stands for the country or body of their `affiliation` ("Nicolás Maduro
  (Venezuela)" covers "Venezuela"), two persons never match through a shared affiliation;
- dates: unknown, one a prefix of the other (`merge.dates_agree`), or two full days at
  most `DATE_SLACK_DAYS` apart (a relative date resolved a day off; kept as a conflict);
  and an undated item already done (held, signed...) cannot report something dated after
  its own article was published;
- agreements: names alike (rapidfuzz token_set_ratio >= `MIN_TEXT`) or equal counts;
  disputes: issues alike or the same dispute kind.
A pair that passes scores `PARTY_WEIGHT * overlap + DATE_WEIGHT * date + TEXT_WEIGHT * text
+ STATUS_WEIGHT * same status`; date is 1 when both are given and agree, `NEUTRAL` when one
is unknown or they are days apart; text compares a meeting's place, topics and outcome, an
agreement's name, a dispute's issue (`NEUTRAL` when one side has none). Places are text,
not a gate: one outlet names the venue ("Kremlin"), another the city ("Moscow").
`THRESHOLD` (0.82) reads: with the same parties and status, agreeing dates link; an unknown
date needs texts `MIN_TEXT` alike; different statuses need agreeing dates and texts.

Clustering is union-find over the linked pairs taken best score first (ties by article id
and position, so the input order never matters), with cannot-links: two groups join only
when no article would appear twice and every pair across them passes the gates. An
undated report therefore never bridges a 2019 meeting and a 2025 one.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rapidfuzz import fuzz
from scipy.optimize import linear_sum_assignment

from summarizer.actors import canonical_names
from summarizer.display import when
from summarizer.merge import dates_agree, places_agree, same_party, stands_for
from summarizer.names import fold, name_words
from summarizer.schema import KINDS, Agreement, Item, ItemKind, Party, Result, parties

PARTY_WEIGHT = 0.5
DATE_WEIGHT = 0.2
TEXT_WEIGHT = 0.2
STATUS_WEIGHT = 0.1
MIN_OVERLAP = 0.5
MIN_TEXT = 0.6
NEUTRAL = 0.5
# 0.82: two undated reports with the same parties and status need texts MIN_TEXT alike.
THRESHOLD = round(PARTY_WEIGHT + STATUS_WEIGHT + DATE_WEIGHT * NEUTRAL + TEXT_WEIGHT * MIN_TEXT, 6)
DATE_SLACK_DAYS = 2
# Statuses of things already done: their undated reports predate their article.
DONE = frozenset({"held", "signed", "in_force", "terminated"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_Model):
    """One article's report of an event: the item as extracted there, quotes included."""

    article_id: str
    title: str | None = None
    published: dt.date | None = None
    item: Item


class Conflict(_Model):
    """A detail the sources disagree on: each value with the articles that give it."""

    field: str
    values: dict[str, list[str]]


class Event(_Model):
    """One real-world occasion; a field holds only what every source agrees with."""

    kind: ItemKind
    label: str
    actors: list[str]
    date: str | None = None
    place: str | None = None
    status: str | None = None
    sources: list[Source]
    conflicts: list[Conflict] = Field(default_factory=list)


class Corpus(_Model):
    """The articles read and their events, in timeline order (see `timeline_key`)."""

    articles: list[str]
    events: list[Event]


@dataclass(frozen=True)
class _Rules:
    """How one kind of item is compared, labelled and checked for conflicts."""

    lift: bool  # a person also stands for their affiliation
    text: Callable[[Any], str]
    alike: Callable[[Any, Any, float], bool]  # the kind's own gate, given text similarity
    label: Callable[[Any], str]
    details: Callable[[Any], dict[str, str | None]]


def _count(item: Agreement) -> str | None:
    return None if item.count is None else str(item.count)


RULES: dict[ItemKind, _Rules] = {
    "meeting": _Rules(
        lift=False,
        text=lambda m: " ".join(filter(None, [m.location, *m.topics, m.outcome])),
        alike=lambda a, b, text: True,
        label=lambda m: "; ".join(m.topics) or m.outcome or "meeting",
        details=lambda m: {"date": m.date, "place": m.location, "status": m.status},
    ),
    "agreement": _Rules(
        lift=True,
        text=lambda a: a.name,
        alike=lambda a, b, text: text >= MIN_TEXT or (a.count is not None and a.count == b.count),
        label=lambda a: a.name,
        details=lambda a: {"date": a.date, "status": a.status, "count": _count(a)},
    ),
    "dispute": _Rules(
        lift=True,
        text=lambda d: d.issue,
        alike=lambda a, b, text: text >= MIN_TEXT or a.kind == b.kind,
        label=lambda d: d.issue,
        details=lambda d: {"status": d.status, "kind": d.kind},
    ),
}


def _places_agree(a: str, b: str) -> bool:
    """`places_agree` on folded names, as whole words ("Kremlin, Moscow" holds "Moscow")."""
    return places_agree(f" {fold(a)} ", f" {fold(b)} ")


def _bound_together(a: Party, b: Party, lift: bool) -> bool:
    """Same party, or (when `lift`) a person against the country or body they act for."""
    return stands_for(a, b) if lift else same_party(a, b)


def _party_overlap(a: list[Party], b: list[Party], lift: bool) -> float:
    """The share of the shorter party list paired one-to-one with parties of the other.

    Outlets name different subsets of a delegation: "Maduro and Putin" and "Maduro, Putin
    and Padrino" are the same talks, so an extra party costs nothing; "Maduro and Putin"
    against "Maduro and Traoré" (0.5) is a different occasion. One-to-one, so a bare
    "Vladimir" does not stand for both Putin and Padrino.
    """
    a = list({name_words(p.name): p for p in a}.values())
    b = list({name_words(p.name): p for p in b}.values())
    match = np.array([[_bound_together(x, y, lift) for y in b] for x in a])
    rows, cols = linear_sum_assignment(match, maximize=True)
    return int(match[rows, cols].sum()) / min(len(a), len(b))


def _date_fit(a: str | None, b: str | None) -> float | None:
    """How well two dates agree; None when they cannot be the same occasion's."""
    if a is None or b is None:
        return NEUTRAL
    if dates_agree(a, b):
        return 1.0
    if len(a) == len(b) == 10:  # both full days: a near miss is a conflict, not a veto
        gap = abs((dt.date.fromisoformat(a) - dt.date.fromisoformat(b)).days)
        return NEUTRAL if gap <= DATE_SLACK_DAYS else None
    return None


def _after_publication(undated: Source, other: Source) -> bool:
    """True when `undated` reports a done thing, yet `other` dates it after that report."""
    date = when(other.item)
    return (
        when(undated.item) is None
        and undated.published is not None
        and undated.item.status in DONE
        and date is not None
        and date > undated.published.isoformat()[: len(date)]
    )


def _similarity(a: str, b: str) -> float:
    if not a or not b:
        return NEUTRAL
    return fuzz.token_set_ratio(fold(a), fold(b)) / 100


def _score(rules: _Rules, a: Source, b: Source) -> float | None:
    """How alike two reports are, or None when they cannot report the same occasion."""
    date = _date_fit(when(a.item), when(b.item))  # the cheapest gate first
    if date is None or _after_publication(a, b) or _after_publication(b, a):
        return None
    overlap = _party_overlap(parties(a.item), parties(b.item), rules.lift)
    if overlap <= MIN_OVERLAP:
        return None
    text = _similarity(rules.text(a.item), rules.text(b.item))
    if not rules.alike(a.item, b.item, text):
        return None
    status = float(a.item.status == b.item.status)
    score = (
        PARTY_WEIGHT * overlap + DATE_WEIGHT * date + TEXT_WEIGHT * text + STATUS_WEIGHT * status
    )
    return round(score, 6)  # float noise must neither break ties nor cross THRESHOLD


def _candidates(rules: _Rules, sources: list[Source]) -> set[tuple[int, int]]:
    """Pairs from different articles sharing a name word: the only ones whose parties can match.

    `same_party` needs one name's words inside the other's, and a person stands for their
    affiliation only when its words meet the country's, so no linkable pair is left out.
    """
    holders: dict[str, list[int]] = defaultdict(list)
    for i, source in enumerate(sources):
        words = {
            word
            for p in parties(source.item)
            for name in (p.name, p.affiliation if rules.lift else None)
            if name
            for word in name_words(name)
        }
        for word in words:
            holders[word].append(i)
    return {
        (i, j)
        for held in holders.values()
        for i, j in combinations(held, 2)
        if sources[i].article_id != sources[j].article_id
    }


def _cluster(rules: _Rules, sources: list[Source]) -> list[list[Source]]:
    """Groups of sources reporting one occasion; `sources` come sorted by article and position."""
    scores = {
        (i, j): score
        for i, j in _candidates(rules, sources)
        if (score := _score(rules, sources[i], sources[j])) is not None
    }
    group = list(range(len(sources)))
    members = {i: [i] for i in group}
    for (i, j), score in sorted(scores.items(), key=lambda pair: (-pair[1], pair[0])):
        if score < THRESHOLD:
            break
        gi, gj = group[i], group[j]
        if gi == gj or not all(
            (min(x, y), max(x, y)) in scores for x in members[gi] for y in members[gj]
        ):
            continue
        for x in members[gj]:
            group[x] = gi
        members[gi] += members.pop(gj)
    return [[sources[i] for i in sorted(m)] for m in members.values()]


def _common_date(dates: Iterable[str]) -> str | None:
    """The most precise date all readings fall in: "2024-11" for "2024-11-07" and "-08"."""
    common: list[str] = []
    for parts in zip(*(d.split("-") for d in dates), strict=False):
        if len(set(parts)) > 1:
            break
        common.append(parts[0])
    return "-".join(common) or None


def _settle(field: str, readings: dict[str, list[str]]) -> tuple[str | None, Conflict | None]:
    """What the sources agree on for `field` (the most precise reading), and any conflict."""
    agree = {"date": dates_agree, "place": _places_agree}.get(field, str.__eq__)
    if all(agree(a, b) for a, b in combinations(readings, 2)):
        return max(readings, key=lambda v: (len(v), v), default=None), None
    conflict = Conflict(field=field, values={v: readings[v] for v in sorted(readings)})
    return (_common_date(readings) if field == "date" else None), conflict


def _medoid(labels: list[str]) -> str:
    """The wording closest to all the others (ties: the longer, then the alphabetically last)."""
    return max(labels, key=lambda x: (sum(_similarity(x, y) for y in labels), len(x), x))


def _event(kind: ItemKind, sources: list[Source], names: dict[str, str]) -> Event:
    rules = RULES[kind]
    details = [rules.details(s.item) for s in sources]
    settled: dict[str, str | None] = {}
    conflicts: list[Conflict] = []
    for field in details[0]:
        readings: dict[str, list[str]] = defaultdict(list)
        for source, detail in zip(sources, details, strict=True):
            if (value := detail[field]) is not None:
                readings[value].append(source.article_id)
        settled[field], conflict = _settle(field, readings)
        conflicts += [conflict] if conflict else []
    return Event(
        kind=kind,
        label=_medoid([rules.label(s.item) for s in sources]),
        actors=list(dict.fromkeys(names[p.name] for s in sources for p in parties(s.item))),
        date=settled.get("date"),
        place=settled.get("place"),
        status=settled.get("status"),
        sources=sources,
        conflicts=conflicts,
    )


def timeline_key(event: Event) -> tuple[bool, str, int, str, str]:
    """Dated events first, in ISO string order, then undated ones.

    String order puts a date known only to the year or month before every date inside it
    ("2019" < "2019-09" < "2019-09-25" < "2019-10"): it stands where its period opens.
    """
    return (
        event.date is None,
        event.date or "",
        KINDS.index(event.kind),
        event.label,
        event.sources[0].article_id,
    )


def link(results: list[Result]) -> Corpus:
    """One event per real-world occasion across the articles' results, in timeline order."""
    ids = Counter(r.id for r in results)
    if twice := sorted(id for id, n in ids.items() if n > 1):
        raise ValueError(f"duplicate article ids: {', '.join(twice)}")
    ordered = sorted(results, key=lambda r: r.id)
    sources: dict[str, list[Source]] = {kind: [] for kind in KINDS}
    for result in ordered:
        summary = result.summary
        for kind, item in summary.items():
            sources[kind].append(
                Source(
                    article_id=summary.id,
                    title=summary.title,
                    published=summary.published,
                    item=item,
                )
            )
    names = canonical_names(p for kind in KINDS for s in sources[kind] for p in parties(s.item))
    events = [
        _event(kind, group, names)
        for kind in KINDS
        for group in _cluster(RULES[kind], sources[kind])
    ]
    return Corpus(articles=sorted(ids), events=sorted(events, key=timeline_key))


def load_corpus(path: Path) -> Corpus:
    """A corpus.json written by `summarizer merge`; raises ValueError naming what is wrong."""
    try:
        return Corpus.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"{path}: not a readable JSON file ({exc.strerror or exc})") from None
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise ValueError(
                f"{path}: not a readable JSON file ({exc.errors()[0]['msg']})"
            ) from None
        raise ValueError(f"{path}: not a corpus written by `summarizer merge`") from None
