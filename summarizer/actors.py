"""One name per actor: "Maduro", "Nicolás Maduro" and "Nicolas Maduro" are one person.

The corpus step (`corpus.link`) and every view of one results file (`show`, the exports,
the graph, the report) use the same mapping, so an actor reads the same everywhere, with or
without `summarizer merge`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from summarizer.names import fold, name_words
from summarizer.schema import Party, Result, parties


def canonical_names(parties: Iterable[Party]) -> dict[str, str]:
    """Every party name to the one form the corpus shows it in: the fullest, accented one.

    A shorter name ("Maduro") takes the form of the one longest name of the same kind that
    holds its words ("Nicolás Maduro"); with two such names ("Delcy Rodríguez", "Jorge
    Rodríguez") it stays as it is. Among spellings of the same words the one without titles,
    then with accents, then the most frequent wins.
    """
    spellings: dict[frozenset[str], Counter[str]] = defaultdict(Counter)
    kinds: dict[frozenset[str], set[str]] = defaultdict(set)
    for party in parties:
        spellings[name_words(party.name)][party.name] += 1
        kinds[name_words(party.name)].add(party.kind)
    holders: dict[str, set[frozenset[str]]] = defaultdict(set)
    for words in spellings:
        for word in words:
            holders[word].add(words)

    def fullest(words: frozenset[str]) -> str:
        counts = spellings[words]
        return max(
            counts,
            key=lambda n: (-len(fold(n).split()), sum(not c.isascii() for c in n), counts[n], n),
        )

    names: dict[str, str] = {}
    for words, counts in spellings.items():
        holding = set.intersection(*(holders[w] for w in words)) if words else set()
        longer = {other for other in holding - {words} if kinds[other] & kinds[words]}
        widest = [w for w in longer if not any(w < other for other in longer)]
        shown = fullest(widest[0] if len(widest) == 1 else words)
        names.update(dict.fromkeys(counts, shown))
    return names


def names_in(results: Sequence[Result]) -> dict[str, str]:
    """`canonical_names` over every party of every item in a results file."""
    return canonical_names(
        p for result in results for _, item in result.summary.items() for p in parties(item)
    )
