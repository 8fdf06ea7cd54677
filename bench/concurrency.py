"""Articles per minute with N requests in flight against llama.cpp on loopback.

llama-cpp-python's server has no parallel slots (no --parallel / n_parallel setting: one
model, one KV cache, requests serialised behind a lock). So two set-ups are measured:
- one server (2 threads), N concurrent clients: the default strategy's requests of
  different articles interleave on the single KV cache;
- N servers on the same model file (mmap'd, so the weights are shared in the page cache),
  the machine's threads split between them (at least 1 each), one client per server.
The work is --quick sized: short article leads (the first sentences of each seed, at least
one of them a candidate sentence), default strategy, response cache bypassed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from summarizer.chunking import split_sentences
from summarizer.prompts import cue_sentences


def leads(articles: list[tuple[str, str]], count: int, chars: int = 450) -> list[tuple[str, str]]:
    """The first sentences (about `chars` characters) of each article, cycling if needed."""
    out: list[tuple[str, str]] = []
    i = 0
    while len(out) < count:
        article_id, text = articles[i % len(articles)]
        sentences = split_sentences(text)
        taken: list[str] = []
        for s in sentences:
            taken.append(s.text)
            if sum(map(len, taken)) >= chars and cue_sentences(split_sentences(" ".join(taken))):
                break
        out.append((f"{article_id}-lead{i // len(articles)}", "\n".join(taken)))
        i += 1
    return out


async def _run_queue(summarizers: list[Any], work: list[tuple[str, str]]) -> list[Any]:
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)
    results: list[Any] = []

    async def worker(s: Any) -> None:
        while not queue.empty():
            article_id, text = queue.get_nowait()
            results.append(await s.asummarize(text, id=article_id))

    await asyncio.gather(*(worker(s) for s in summarizers))
    return results


def run(summarizers: list[Any], work: list[tuple[str, str]]) -> dict[str, Any]:
    """Work through `work` with one worker per summarizer (the same one may repeat)."""
    started = time.perf_counter()
    results = asyncio.run(_run_queue(summarizers, work))
    wall = time.perf_counter() - started
    return {
        "articles": len(results),
        "wall_s": round(wall, 2),
        "articles_per_min": round(60 * len(results) / wall, 2),
        "requests": sum(r.run.requests for r in results),
        "completion_tokens": sum(r.run.completion_tokens for r in results),
    }
