"""How items read to a person: who, when, what, in one place for every output (the `show`
table, CSV, Markdown, the HTML report, the corpus timeline).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from summarizer.schema import Agreement, Dispute, Item, Meeting, Party, parties


def names(parties: list[Party], shown: Mapping[str, str] | None = None) -> str:
    """Party names joined; `shown` maps each to its results file's canonical name
    (`actors.names_in`), so "Maduro" reads "Nicolás Maduro"."""
    return "; ".join((shown or {}).get(p.name, p.name) for p in parties)


def who(item: Item, shown: Mapping[str, str] | None = None) -> str:
    """The parties of an item; a dispute reads "side A vs side B"."""
    match item:
        case Meeting():
            return names(item.participants, shown)
        case Agreement():
            return names(item.parties, shown)
        case Dispute():
            return " vs ".join(names(side.parties, shown) for side in item.sides)


def when(item: Item) -> str | None:
    return None if isinstance(item, Dispute) else item.date


def what(item: Item) -> str:
    """The one-line gist shown in the digest and the table."""
    match item:
        case Meeting():
            parts = ["; ".join(item.topics), item.outcome]
        case Agreement():
            # A count the name already states ("17 agreements") is not repeated.
            count = f"{item.count} agreements" if item.count else None
            parts = [item.name, ", ".join(item.areas), None if item.name == count else count]
        case Dispute():
            parts = [f"{item.issue} ({item.kind})"]
    return " — ".join(p for p in parts if p)


def grounded(item: Item) -> bool:
    """An item counts as grounded when at least one of its quotes was found in the article."""
    return any(e.grounded for e in item.evidence)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def pairs(item: Item) -> list[tuple[str, str]]:
    """Who is linked to whom: everyone at a meeting or on an agreement; across dispute sides."""
    if isinstance(item, Dispute):
        sides = [[p.name for p in side.parties] for side in item.sides]
        return [(a, b) for x, y in itertools.combinations(sides, 2) for a in x for b in y]
    return list(itertools.combinations([p.name for p in parties(item)], 2))


def heading(item: Item) -> str:
    match item:
        case Meeting():
            return ", ".join(p.name for p in item.participants)
        case Agreement():
            return item.name
        case Dispute():
            return item.issue


def facts(item: Item) -> list[tuple[str, str]]:
    """Labelled facts for the item's card; empty ones are left out."""
    match item:
        case Meeting():
            rows = [
                ("when", item.date),
                ("where", item.location),
                ("status", item.status),
                ("topics", ", ".join(item.topics)),
                ("outcome", item.outcome),
            ]
        case Agreement():
            rows = [
                ("parties", ", ".join(p.name for p in item.parties)),
                ("when", item.date),
                ("status", item.status.replace("_", " ")),
                ("areas", ", ".join(item.areas)),
                ("count", str(item.count) if item.count else None),
                ("about", item.description),
            ]
        case Dispute():
            sides = [
                ", ".join(p.name for p in side.parties)
                + (f" ({side.position})" if side.position else "")
                for side in item.sides
            ]
            rows = [("type", item.kind), ("sides", " vs ".join(sides)), ("status", item.status)]
    return [(label, value) for label, value in rows if value]


def event_label(item: Item) -> str:
    """The one line a timeline point or a network edge shows for an item."""
    if isinstance(item, Meeting):
        where = f" in {item.location}" if item.location else ""
        return f"{heading(item)} meet{where}"
    return heading(item)
