"""The `checked` strategy against a real OpenAI-protocol server on 127.0.0.1: one extraction
request, then one yes/no question per item on the same prefix; a "no" drops the item."""

from __future__ import annotations

from summarizer import Summarizer
from summarizer.config import Config
from tests.conftest import ARTICLE, article_reply
from tests.stub_server import Reply, StubServer


def _checked(config: Config) -> Config:
    return config.model_copy(update={"strategy": "checked"})


def test_each_item_is_checked_and_a_no_drops_it(stub: StubServer, stub_config: Config) -> None:
    # The extraction, then the meeting, agreement and dispute questions in that order.
    stub.push(
        Reply(article_reply()),
        Reply({"answer": "yes"}),
        Reply({"answer": "yes"}),
        Reply({"answer": "no"}),
    )
    with Summarizer(_checked(stub_config)) as s:
        result = s.summarize(ARTICLE, id="a1", published="2024-11-08")
    summary = result.summary
    assert [len(summary.meetings), len(summary.agreements), len(summary.disputes)] == [1, 1, 0]
    assert result.run.requests == 4
    extraction, *checks = (r["messages"] for r in stub.requests)
    # Every check shares the extraction's system prompt and article: a KV-cache prefix.
    article = extraction[1]["content"].split("</article>")[0]
    for messages in checks:
        assert messages[0] == extraction[0]
        assert messages[1]["content"].startswith(article)
    meeting_check = checks[0][1]["content"]
    assert "Nicolás Maduro" in meeting_check and "met or held talks" in meeting_check
    # The question quotes the sentence the item cites, and names the opposing sides.
    assert "[4] The United States criticised the deals." in checks[2][1]["content"]
    assert "AGAINST" in checks[2][1]["content"]


def test_a_failed_check_keeps_its_item(stub: StubServer, stub_config: Config) -> None:
    """Only the model's own "no" removes an item; an unanswerable question does not."""
    yes = Reply({"answer": "yes"})
    stub.push(Reply(article_reply()), Reply("this is not json"), yes, yes)
    config = _checked(stub_config).model_copy(update={"max_reasks": 0})
    with Summarizer(config) as s:
        result = s.summarize(ARTICLE, id="a2", published="2024-11-08")
    assert len(result.summary.meetings) == 1
    assert any("check request failed" in w for w in result.run.warnings)


def test_no_items_means_one_request(stub: StubServer, stub_config: Config) -> None:
    stub.push(Reply(article_reply(meetings=[], agreements=[], disputes=[])))
    with Summarizer(_checked(stub_config)) as s:
        result = s.summarize(ARTICLE, id="a3")
    assert result.run.requests == 1 and not result.summary.items()
