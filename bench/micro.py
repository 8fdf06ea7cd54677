"""Timings that need no model: a cache hit per article, and grounding a long article."""

from __future__ import annotations

import statistics
import timeit
from dataclasses import dataclass
from typing import Any

from summarizer import grounding
from summarizer.chunking import split_sentences
from summarizer.pipeline import Summarizer
from summarizer.schema import Evidence


@dataclass
class Timing:
    median_ms: float
    p90_ms: float
    runs: int

    @classmethod
    def of(cls, seconds: list[float]) -> Timing:
        ms = sorted(s * 1000 for s in seconds)
        return cls(
            round(statistics.median(ms), 3), round(ms[min(len(ms) - 1, int(len(ms) * 0.9))], 3),
            len(ms),
        )  # fmt: skip


def cache_hits(s: Summarizer, articles: list[tuple[str, str]], runs: int) -> dict[str, Any]:
    """summarize() of an article seen before, per article, two ways: the finished result
    from the cache (an unchanged article, the common case), and every model answer from the
    request cache but the result rebuilt (the first run after the code changed)."""
    per: dict[str, Timing] = {}
    rebuilt: dict[str, Timing] = {}
    first: dict[str, float] = {}
    store = s.cache._cache  # the diskcache underneath: the bench drops one result from it
    assert store is not None
    for article_id, text in articles:
        t0 = timeit.default_timer()
        s.summarize(text, id=article_id)  # fills whatever is missing, by asking the model
        first[article_id] = (timeit.default_timer() - t0) * 1000
        result = s.summarize(text, id=article_id)
        if not result.run.cache_hit:
            raise RuntimeError(f"{article_id}: expected a cache hit, the model was asked")
        key = s._result_key(text, article_id, None, None)

        def answers_only(t: str = text, i: str = article_id, k: str = key) -> None:
            store.delete(k)
            s.summarize(t, id=i)

        rebuilt[article_id] = Timing.of(timeit.repeat(answers_only, number=1, repeat=runs))
        times = timeit.repeat(lambda t=text, i=article_id: s.summarize(t, id=i), number=1,
                              repeat=runs)  # fmt: skip
        per[article_id] = Timing.of(times)
    all_medians = [t.median_ms for t in per.values()]
    rebuilt_medians = [t.median_ms for t in rebuilt.values()]
    return {
        "breakdown": breakdown(s, articles, runs),
        "per_article": {k: vars(v) for k, v in per.items()},
        "answers_only": {k: vars(v) for k, v in rebuilt.items()},
        "first_call_ms": {k: round(v, 2) for k, v in first.items()},
        "median_ms": round(statistics.median(all_medians), 3),
        "max_median_ms": round(max(all_medians), 3),
        "answers_only_median_ms": round(statistics.median(rebuilt_medians), 3),
        "answers_only_max_median_ms": round(max(rebuilt_medians), 3),
        "runs": runs,
    }


def _curl(s: str) -> str:
    """Typographic retyping a model does: curly quotes, dashes, doubled spaces."""
    return (
        s.replace('"', "\u201c")
        .replace("'", "\u2019")
        .replace(" - ", " \u2014 ")
        .replace(", ", ",  ")
    )


def _slip(s: str) -> str:
    """A paraphrase-level slip: two words swapped and a letter dropped (fuzzy match)."""
    words = s.split()
    if len(words) > 6:
        words[2], words[3] = words[3], words[2]
    out = " ".join(words)
    mid = len(out) // 2
    return out[:mid] + out[mid + 1 :]


def long_article(texts: list[str], chars: int = 20_000) -> str:
    joined = "\n\n".join(texts)
    while len(joined) < chars:
        joined += "\n\n" + joined
    cut = joined[:chars]
    return cut


def grounding_timing(texts: list[str], runs: int) -> dict[str, Any]:
    """ground() over a realistic evidence list for a 20,000-character article.

    Twelve quotes: four verbatim, four retyped (curly quotes, dashes, spaces, lower case),
    two slipped (word swap + dropped letter: the fuzzy path) and two absent from the
    article (the worst case: a fuzzy scan of the whole text that finds nothing). The
    article's folded form is cached per text inside `grounding`; "cold" clears that cache
    before every run, "warm" does not.
    """
    text = long_article(texts)
    sentences = [s for s in split_sentences(text) if 80 <= len(s.text) <= 260]
    step = max(1, len(sentences) // 10)
    picked = [s.text for s in sentences[::step]][:10]
    quotes = (
        picked[:4]
        + [_curl(q).lower() if i % 2 else _curl(q) for i, q in enumerate(picked[4:8])]
        + [_slip(q) for q in picked[8:10]]
        + [
            "The delegations agreed to build a joint satellite launch facility near the coast.",
            "Officials from both ministries signed a memorandum on fisheries quotas last week.",
        ]
    )
    evidence = [Evidence(quote=q) for q in quotes]
    found = grounding.ground(text, evidence)
    kinds = ["verbatim"] * 4 + ["retyped"] * 4 + ["slipped"] * 2 + ["absent"] * 2

    def cold() -> None:
        grounding._fold_article.cache_clear()
        grounding.ground(text, evidence)

    cold_t = Timing.of(timeit.repeat(cold, number=1, repeat=runs))
    grounding.ground(text, evidence)
    warm_t = Timing.of(timeit.repeat(lambda: grounding.ground(text, evidence), number=1,
                                     repeat=runs))  # fmt: skip
    per_kind: dict[str, Timing] = {}
    for kind in ("verbatim", "retyped", "slipped", "absent"):
        subset = [e for e, k in zip(evidence, kinds, strict=True) if k == kind]
        per_kind[kind] = Timing.of(
            timeit.repeat(lambda sub=subset: grounding.ground(text, sub), number=1, repeat=runs)
        )
    return {
        "chars": len(text),
        "quotes": len(evidence),
        "grounded": [bool(e.grounded) for e in found],
        "kinds": kinds,
        "cold": vars(cold_t),
        "warm": vars(warm_t),
        "per_kind_warm": {k: vars(v) for k, v in per_kind.items()},
        "runs": runs,
    }


def breakdown(s: Summarizer, articles: list[tuple[str, str]], runs: int) -> dict[str, Any]:
    """Where a cache hit's time goes: the fixed steps, timed alone (medians, ms)."""
    import datetime as dt

    from summarizer import dates
    from summarizer.config import Config
    from summarizer.extraction import FoundItems
    from summarizer.prompts import build_messages, prompt_version
    from summarizer.reuse import request_key

    article_id, text = max(articles, key=lambda a: len(a[1]))
    sentences = split_sentences(text)
    messages = build_messages(sentences, "overview")
    config: Config = s.config
    key = request_key(config, messages, FoundItems, 700)

    def med(fn: Any, n: int = runs) -> float:
        return round(statistics.median(timeit.repeat(fn, number=1, repeat=n)) * 1000, 3)

    return {
        "article": article_id,
        "split_sentences_ms": med(lambda: split_sentences(text), max(5, runs // 3)),
        "prompt_version_ms": med(prompt_version),
        "json_schema_ms": med(FoundItems.model_json_schema),
        "request_key_ms": med(lambda: request_key(config, messages, FoundItems, 700)),
        "build_messages_ms": med(lambda: build_messages(sentences, "overview")),
        "cache_get_ms": med(lambda: s.cache.get(key)),
        "date_resolve_ms": med(
            lambda: dates.resolve("on Thursday", dt.date(2025, 5, 9)), max(5, runs // 3)
        ),
    }
