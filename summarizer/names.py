"""Name folding shared by resolution, merging and scoring: one notion of "the same name"."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Honorifics and offices that precede names; dropping them lets "President Putin" meet "Putin".
TITLES = frozenset(
    [
        "president",
        "vice",
        "prime",
        "minister",
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "doctor",
        "prof",
        "professor",
        "sir",
        "dame",
        "lord",
        "lady",
        "captain",
        "capt",
        "general",
        "gen",
        "colonel",
        "col",
        "major",
        "lieutenant",
        "lt",
        "admiral",
        "commander",
        "sergeant",
        "king",
        "queen",
        "prince",
        "princess",
        "sheikh",
        "emir",
        "sultan",
        "pope",
        "patriarch",
        "cardinal",
        "bishop",
        "father",
        "chancellor",
        "premier",
        "senator",
        "sen",
        "rep",
        "representative",
        "governor",
        "gov",
        "mayor",
        "ambassador",
        "secretary",
        "chairman",
        "chairwoman",
        "chair",
        "deputy",
        "foreign",
        "defense",
        "defence",
        "executive",
        "head",
        "first",
        "lady",
        "gentleman",
        "the",
        "his",
        "her",
        "excellency",
        "hon",
        "honourable",
        "honorable",
        "comrade",
        "spokesman",
        "spokeswoman",
        "spokesperson",
        "envoy",
        "counterpart",
        "chief",
        "director",
        "ceo",
    ]
)

_NON_WORD = re.compile(r"[^\w]+")


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Accent- and case-folded text with punctuation turned into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", stripped.casefold()).split())


@lru_cache(maxsize=65536)
def name_words(name: str) -> frozenset[str]:
    """The folded words of a name without titles (all words, if it is nothing but titles)."""
    words = fold(name).split()
    kept = [w for w in words if w not in TITLES]
    return frozenset(kept or words)


def contained(short: str, long: str) -> bool:
    """True when every word of `short` stands in `long` ("Maduro" in "Nicolás Maduro")."""
    a, b = name_words(short), name_words(long)
    return bool(a) and a <= b


def stems(text: str) -> set[str]:
    """5-letter stems of the folded words: "Russian" and "Russia", "Venezuelan" and
    "Venezuela" meet, which is enough to tell whether a text mentions a name at all."""
    return {w[:5] for w in fold(text).split() if len(w) > 2}


def acronyms(text: str) -> set[str]:
    """Acronyms a text uses, however punctuated: "U.S." and "US" both give "us"."""
    found: set[str] = set()
    run: list[str] = []
    for word in [*fold(text).split(), ""]:
        if len(word) == 1:
            run.append(word)
            continue
        if len(run) > 1:
            found.add("".join(run))
        run = []
        if 1 < len(word) <= 5 and word.isalpha():
            found.add(word)
    return found


def initials(name: str) -> str:
    """ "United States" -> "us": how articles often name a long party."""
    words = [w for w in fold(name).split() if w not in TITLES and w not in {"of", "and"}]
    return "".join(w[0] for w in words) if len(words) > 1 else ""
