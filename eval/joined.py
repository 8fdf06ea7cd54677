"""One long article made of several short ones, with their gold combined.

Why: the pipeline reads an article longer than the model's context in overlapping chunks
and merges what each chunk found. `summarizer eval --join` scores that path on real text:
articles joined into one (longer than one chunk) against the union of their gold, to be
compared with the same articles scored apart.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import EvalError
from .gold import GoldArticle

JOINED_ID = "joined"
SEPARATOR = "\n\n"


def join_order(ids: Iterable[str]) -> list[str]:
    """The one order articles are joined in, texts and gold alike: by id (a file's stem)."""
    return sorted(ids)


def join_texts(texts: list[str]) -> str:
    """The articles in order, each keeping its own title line, one blank line apart."""
    return SEPARATOR.join(text.strip() for text in texts)


def join_gold(articles: list[GoldArticle]) -> GoldArticle:
    """Every item of every article; aliases merged per canonical name.

    Join articles that report different events: two reports of one meeting are one
    meeting in a single text, but would stay two items here.
    """
    if not articles:
        raise EvalError("no gold for the articles to join")
    aliases: dict[str, list[str]] = {}
    for article in articles:
        for canonical, others in article.aliases.items():
            merged = aliases.setdefault(canonical, [])
            merged.extend(o for o in others if o not in merged)
    return GoldArticle(
        id=JOINED_ID,
        title=articles[0].title,
        summary=" ".join(a.summary for a in articles if a.summary),
        aliases=aliases,
        meetings=[m for a in articles for m in a.meetings],
        agreements=[g for a in articles for g in a.agreements],
        disputes=[d for a in articles for d in a.disputes],
    )
