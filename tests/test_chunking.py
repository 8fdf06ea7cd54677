"""Long articles: read whole in overlapping chunks, merged back without loss or duplicates."""

from __future__ import annotations

import itertools
import re
from typing import Any

from summarizer import Summarizer
from summarizer.chunking import chunk_sentences, estimate_tokens, split_sentences
from summarizer.config import Config
from tests.conftest import SEEDS
from tests.stub_server import Reply, StubServer

_MEETING = re.compile(r"^\[(\d+)\] (\w+ Smith) met (\w+ Jones) in (\w+)\.", re.MULTILINE)
NAMES = ["Alder", "Birch", "Cedar", "Dogwood", "Elm", "Fir", "Ginkgo", "Hazel", "Ivy", "Juniper"]


def long_article() -> str:
    """Real seed text with ten distinct meetings spread through it: about 40,000 characters."""
    seeds = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    parts = []
    for i, name in enumerate(NAMES):
        parts.append(seeds[i % len(seeds)])
        parts.append(f"{name} Smith met {name} Jones in Town{name}.")
    return "Ten meetings in one long report\n\n" + "\n\n".join(parts)


def reply_for_chunk(request: dict[str, Any]) -> Reply:
    """A model that reports every meeting sentence it is shown, citing its number."""
    user = request["messages"][-1]["content"]
    meetings = [
        {
            "ev": [int(n)],
            "who": [envoy, minister],
            "when": None,
            "where": town,
            "status": "held",
            "topics": [],
            "outcome": None,
        }
        for n, envoy, minister, town in _MEETING.findall(user)
    ]
    return Reply(
        {
            "title": 1,
            "lang": "en",
            "dateline": None,
            "summary": "Ten Smiths met ten Joneses.",
            "actors": [],
            "meetings": meetings,
            "agreements": [],
            "disputes": [],
        }
    )


def test_chunks_cover_every_sentence_in_order_within_budget() -> None:
    sentences = split_sentences(long_article())
    chunks = chunk_sentences(sentences, budget_tokens=500, overlap=2)
    assert len(chunks) > 5
    seen = [s.n for chunk in chunks for s in chunk]
    assert sorted(set(seen)) == [s.n for s in sentences]  # nothing left out
    for before, after in itertools.pairwise(chunks):
        assert after[:2] == before[-2:]  # consecutive chunks overlap by two sentences
    for chunk in chunks:
        tokens = sum(estimate_tokens(s.text) + 3 for s in chunk)
        assert tokens <= 500 or len(chunk) <= 3  # a single huge sentence still gets a chunk


def test_a_short_article_is_one_chunk() -> None:
    sentences = split_sentences("One sentence. Another one.")
    assert chunk_sentences(sentences, budget_tokens=500) == [sentences]


def test_long_article_is_read_whole_and_merged(stub: StubServer, stub_config: Config) -> None:
    text = long_article()
    stub.default = reply_for_chunk
    config = stub_config.model_copy(update={"context_tokens": 4000})  # chunks of ~1,250 tokens
    with Summarizer(config) as s:
        result = s.summarize(text, id="long", title="Ten meetings", published="2025-05-09")

    assert result.run.chunks == len(stub.requests) > 5
    meetings = result.summary.meetings
    # Every meeting found in some chunk is kept, and those seen by two chunks are one item.
    assert sorted(m.participants[0].name for m in meetings) == [f"{n} Smith" for n in NAMES]
    for meeting in meetings:
        [ev] = meeting.evidence
        assert ev.grounded and text[ev.start : ev.end] == ev.quote  # spans in the whole text
        assert ev.quote.startswith(meeting.participants[0].name)
    shown = [len(_MEETING.findall(r["messages"][-1]["content"])) for r in stub.requests]
    assert sum(shown) > len(NAMES)  # some meetings stood in two chunks' overlap...
    for request in stub.requests:  # ...and were merged back into one item each (above)
        user = request["messages"][-1]["content"]
        assert "Title: Ten meetings" in user and "Published: 2025-05-09" in user
        assert estimate_tokens(user) < 4000


def test_sentences_of_other_scripts_are_split_at_their_own_full_stops() -> None:
    text = "王毅與馬克龍會晤。馬克龍將訪問上海和北京！「兩國將簽署文件。」\nهل وقعوا؟ نعم"  # noqa: RUF001
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "王毅與馬克龍會晤。",
        "馬克龍將訪問上海和北京！",  # noqa: RUF001
        "「兩國將簽署文件。」",
        "هل وقعوا؟",
        "نعم",
    ]
    for s in sentences:
        assert text[s.start : s.end] == s.text
