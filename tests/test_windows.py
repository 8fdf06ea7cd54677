"""The `windows` strategy against a real OpenAI-protocol server on 127.0.0.1: an overview,
the items of a few sentences at a time, then one yes/no question per item on the same
prefix; the model's "no" drops an item."""

from __future__ import annotations

from typing import Any

from summarizer import Summarizer
from summarizer.config import Config
from tests.conftest import ARTICLE, article_reply
from tests.stub_server import Reply, StubServer

OVERVIEW = {"title": 1, "lang": "en", "dateline": None, "summary": "Leaders met and signed."}


def _windows(config: Config) -> Config:
    return config.model_copy(update={"strategy": "windows"})


def _items(**changes: Any) -> dict[str, Any]:
    """ARTICLE's items, as a window answer (no title, language, dateline or summary)."""
    reply = article_reply(**changes)
    return {k: reply[k] for k in ("actors", "meetings", "agreements", "disputes")}


def test_each_item_is_checked_and_a_no_drops_it(stub: StubServer, stub_config: Config) -> None:
    # ARTICLE is one window: overview, window, then the meeting, agreement, dispute checks.
    stub.push(
        Reply(OVERVIEW),
        Reply(_items()),
        Reply({"answer": "yes"}),
        Reply({"answer": "yes"}),
        Reply({"answer": "no"}),
    )
    with Summarizer(_windows(stub_config)) as s:
        result = s.summarize(ARTICLE, id="a1", published="2024-11-08")
    summary = result.summary
    assert [len(summary.meetings), len(summary.agreements), len(summary.disputes)] == [1, 1, 0]
    assert summary.summary == OVERVIEW["summary"] and result.run.requests == 5
    overview, window, *checks = (r["messages"] for r in stub.requests)
    assert "sentences [1] to [4]" in window[1]["content"]
    # Every request shares the system prompt and the article: a KV-cache prefix.
    article = overview[1]["content"].split("</article>")[0]
    for messages in (window, *checks):
        assert messages[0] == overview[0]
        assert messages[1]["content"].startswith(article)
    meeting_check = checks[0][1]["content"]
    assert "Nicolás Maduro" in meeting_check and "met or held talks" in meeting_check
    # The question quotes the sentence the item cites, and names the opposing sides.
    assert "[4] The United States criticised the deals." in checks[2][1]["content"]
    assert "AGAINST" in checks[2][1]["content"]


def test_a_failed_check_keeps_its_item(stub: StubServer, stub_config: Config) -> None:
    """Only the model's own "no" removes an item; an unanswerable question does not."""
    yes = Reply({"answer": "yes"})
    stub.push(Reply(OVERVIEW), Reply(_items()), Reply("this is not json"), yes, yes)
    config = _windows(stub_config).model_copy(update={"max_reasks": 0})
    with Summarizer(config) as s:
        result = s.summarize(ARTICLE, id="a2", published="2024-11-08")
    assert len(result.summary.meetings) == 1
    assert any("check request failed" in w for w in result.run.warnings)


def test_a_window_without_items_asks_nothing_more(stub: StubServer, stub_config: Config) -> None:
    stub.push(Reply(OVERVIEW), Reply(_items(meetings=[], agreements=[], disputes=[])))
    with Summarizer(_windows(stub_config)) as s:
        result = s.summarize(ARTICLE, id="a3")
    assert result.run.requests == 2 and not result.summary.items()


def _name(i: int) -> str:
    return "Kov" + "abcdefghijklmnopqrstuvwxyz"[i] + "ic"


def _long_article(n: int) -> str:
    lines = [
        f"Envoy Ana {_name(i)} met Minister Tor {_name(i)}sen in Porto Alto for talks."
        for i in range(1, n)
    ]
    return "Envoys meet ministers\n\n" + " ".join(lines)


def _window_reply(n: int) -> dict[str, object]:
    """A meeting reported by sentence n (sentence 1 is the headline)."""
    return {
        "actors": [],
        "meetings": [
            {
                "ev": [n],
                "who": [f"Ana {_name(n - 1)}", f"Tor {_name(n - 1)}sen"],
                "when": None,
                "where": "Porto Alto",
                "status": "held",
                "topics": [],
                "outcome": None,
            }
        ],
        "agreements": [],
        "disputes": [],
    }


def test_windows_ask_about_every_sentence_once_with_the_whole_article_shown(
    stub: StubServer, stub_config: Config
) -> None:
    text = _long_article(24)  # a headline and 23 sentences: more than one window

    def answer(request: dict[str, Any]) -> Reply:
        content = request["messages"][-1]["content"]
        if "Check one" in content:
            return Reply({"answer": "yes"})
        first = int(content.split("sentences [")[1].split("]")[0])
        return Reply(_window_reply(first + 1))

    stub.push(Reply(OVERVIEW))
    stub.default = answer
    with Summarizer(_windows(stub_config)) as s:
        result = s.summarize(text, id="w1")
    asks = [r["messages"][-1]["content"] for r in stub.requests]
    windows = [a.split("</article>")[1] for a in asks if "Check one" not in a][1:]
    assert len(windows) >= 2
    spans = [
        (int(w.split("sentences [")[1].split("]")[0]), int(w.split("to [")[1].split("]")[0]))
        for w in windows
    ]
    covered = [n for first, last in spans for n in range(first, last + 1)]
    assert covered == list(range(1, 25))  # every sentence once, in order
    for a in asks:
        assert f"[24] Envoy Ana {_name(23)}" in a  # every question shows the whole article
    # One meeting per window, each checked once.
    assert len(result.summary.meetings) == len(windows)
    assert sum("Check one" in a for a in asks) == len(windows)
