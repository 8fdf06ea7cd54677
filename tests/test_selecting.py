"""The `select` strategy against a real OpenAI-protocol server on 127.0.0.1: the model picks
the sentences by number (in any language), each is asked about, each item checked."""

from __future__ import annotations

from summarizer import Summarizer
from summarizer.config import Config
from tests.conftest import ARTICLE, article_reply
from tests.stub_server import Reply, StubServer

OVERVIEW = {"title": 1, "lang": "en", "dateline": None, "summary": "Leaders met and signed."}


def _found(key: str) -> dict[str, object]:
    reply = article_reply()
    return {"actors": reply["actors"], key: reply[key]}


def test_selected_sentences_are_asked_about_and_checked(
    stub: StubServer, stub_config: Config
) -> None:
    yes, no = Reply({"answer": "yes"}), Reply({"answer": "no"})
    stub.push(
        Reply(OVERVIEW),
        Reply({"meetings": [2], "agreements": [3, 99], "disputes": [4]}),  # 99: no such sentence
        Reply(_found("meetings")),
        yes,
        Reply(_found("agreements")),
        yes,
        Reply(_found("disputes")),
        no,
    )
    config = stub_config.model_copy(update={"strategy": "select"})
    with Summarizer(config) as s:
        result = s.summarize(ARTICLE, id="s1", published="2024-11-08")
    summary = result.summary
    assert [len(summary.meetings), len(summary.agreements), len(summary.disputes)] == [1, 1, 0]
    assert result.run.requests == 8
    asks = [r["messages"][-1]["content"].split("</article>")[1] for r in stub.requests]
    assert "Which sentences report" in asks[1]
    assert 'Sentence [2]: "Venezuelan President' in asks[2]
    assert "List the agreements that sentence [3] reports" in asks[4]
    # Every request shares the system prompt and the article: a KV-cache prefix.
    first = stub.requests[0]["messages"]
    for r in stub.requests[1:]:
        assert r["messages"][0] == first[0]


def test_nothing_selected_means_two_requests(stub: StubServer, stub_config: Config) -> None:
    stub.push(Reply(OVERVIEW), Reply({"meetings": [], "agreements": [], "disputes": []}))
    config = stub_config.model_copy(update={"strategy": "select"})
    with Summarizer(config) as s:
        result = s.summarize(ARTICLE, id="s2")
    assert result.run.requests == 2 and not result.summary.items()
