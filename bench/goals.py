"""The default strategy's speed goals, judged from the figures of one run (never asserted).

Issue 16 asks of the default: a mean of at most 60 s per seed article on a quiet machine,
at most ~1.6x the seconds of the one-request `article` strategy in the same run, and at
most 2x its generated tokens (the `article` strategy writes about the finished answer and
nothing else). The previous default's figures stand beside the new ones as a fixed record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The previous default, as bench/run.py measured it in an earlier session (2026-11-26,
# prompt version 7999b9d1daa1a19b, the five seed articles, quiet 2-core machine). A record
# of that session, not of this run: the report prints it as "before" beside the new figures,
# and results written before the bench recorded its strategy were measured with it.
PREVIOUS: dict[str, Any] = {
    "strategy": "sentences",
    "date": "2026-11-26",
    "seconds": 220.0,
    "requests": 33,
    "completion": 2828,
    "f1": 0.51,
}

LIMITS = {"seconds": 60.0, "vs_article_s": 1.6, "vs_article_tokens": 2.0}


def good(section: Any) -> bool:
    """A section that ran to the end (not failed, skipped or missing)."""
    return isinstance(section, dict) and "error" not in section and "skipped" not in section


def verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "not measured"
    return "met" if value <= limit else "**missed**"


def measured_with(section: Any, key: str = "strategy") -> str:
    """The default strategy a section measured, as bench/run.py recorded it; a section
    written before the bench recorded it measured the previous default."""
    if isinstance(section, dict) and isinstance(section.get(key), str):
        return section[key]
    return str(PREVIOUS["strategy"])


@dataclass(frozen=True)
class Goal:
    """One goal row: what was measured, the figure, the limit and whether it was met."""

    measure: str
    result: str
    goal: str
    verdict: str


@dataclass(frozen=True)
class Figures:
    """Per-article means of one strategy in one run."""

    strategy: str
    articles: int
    seconds: float
    requests: float
    completion: float
    f1: float | None


def default_figures(r: dict[str, Any]) -> Figures | None:
    """The default strategy's figures: from the strategies section (same run as `article`),
    else from section main."""
    st, main = r.get("strategies"), r.get("main")
    if good(st) and isinstance(st.get(measured_with(st, "default")), dict):
        return _figures(measured_with(st, "default"), st[measured_with(st, "default")])
    if good(main):
        rows = main["rows"]
        return Figures(
            measured_with(main),
            len(rows),
            main["wall_s_per_article"],
            sum(x["requests"] for x in rows) / len(rows),
            sum(x["completion_tokens"] for x in rows) / len(rows),
            None,
        )
    return None


def article_figures(r: dict[str, Any]) -> Figures | None:
    """The one-request strategy's figures, when the strategies section measured it."""
    st = r.get("strategies")
    if good(st) and isinstance(st.get("article"), dict):
        return _figures("article", st["article"])
    return None


def _figures(name: str, v: dict[str, Any]) -> Figures:
    return Figures(
        name,
        v["articles"],
        v["wall_s_per_article"],
        v["requests_per_article"],
        v["completion_tokens_per_article"],
        (v.get("score") or {}).get("f1"),
    )


def speed_goals(r: dict[str, Any]) -> list[Goal]:
    """The three goals, each judged from this run's figures (or "not measured")."""
    d, a = default_figures(r), article_figures(r)
    name = d.strategy if d else measured_with(r.get("main"))
    seconds = Goal(
        f"seconds per article, default `{name}` (cache bypassed"
        + (f", mean of {d.articles} articles)" if d else ")"),
        f"{d.seconds:.1f} s" if d else "-",
        f"<= {LIMITS['seconds']:.0f} s",
        verdict(d.seconds if d else None, LIMITS["seconds"]),
    )
    s_ratio = t_ratio = None
    s_text = t_text = "-"
    if d is not None and a is not None and d.strategy != a.strategy:
        if a.seconds:
            s_ratio = d.seconds / a.seconds
            s_text = f"{s_ratio:.2f}x ({d.seconds:.1f} s / {a.seconds:.1f} s)"
        if a.completion:
            t_ratio = d.completion / a.completion
            t_text = f"{t_ratio:.2f}x ({d.completion:,.0f} / {a.completion:,.0f})"
    return [
        seconds,
        Goal(
            f"seconds per article: `{name}` / `article`, same run",
            s_text,
            f"<= {LIMITS['vs_article_s']}x",
            verdict(s_ratio, LIMITS["vs_article_s"]),
        ),
        Goal(
            f"generated tokens per article: `{name}` / `article`, same run",
            t_text,
            f"<= {LIMITS['vs_article_tokens']:.0f}x",
            verdict(t_ratio, LIMITS["vs_article_tokens"]),
        ),
    ]


def before_and_now(r: dict[str, Any]) -> str:
    """The previous default's recorded figures beside this run's default."""
    p = PREVIOUS
    line = (
        f"Before: `{p['strategy']}`, the previous default, measured by an earlier session "
        f"({p['date']}, not this run): {p['seconds']:.0f} s per article, {p['requests']} "
        f"requests, {p['completion']:,} generated tokens, item F1 {p['f1']:.2f} on the seeds."
    )
    d = default_figures(r)
    if d is not None:
        f1 = f", item F1 {d.f1:.2f}" if d.f1 is not None else ""
        line += (
            f" Now: `{d.strategy}`, {d.seconds:.0f} s per article, {d.requests:.0f} requests, "
            f"{d.completion:,.0f} generated tokens{f1}."
        )
    return line
