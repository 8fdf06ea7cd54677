"""The bench-only `windows-unchecked` strategy, through the library's public seam, against a
real OpenAI-protocol server on 127.0.0.1: the default's windows without the yes/no checks.
The bench's token tables name each request of the default by its task."""

from __future__ import annotations

from bench.strategies import UNCHECKED
from bench.tokens import task_of
from summarizer import Summarizer
from summarizer.config import Config
from tests.conftest import ARTICLE
from tests.stub_server import Reply, StubServer
from tests.test_windows import OVERVIEW, _items


def test_unchecked_windows_keep_every_item_without_asking(
    stub: StubServer, stub_config: Config
) -> None:
    stub.push(Reply(OVERVIEW), Reply(_items()))
    config = stub_config.model_copy(update={"strategy": UNCHECKED})
    with Summarizer(config) as s:
        result = s.summarize(ARTICLE, id="u1", published="2024-11-08")
    summary = result.summary
    assert [len(summary.meetings), len(summary.agreements), len(summary.disputes)] == [1, 1, 1]
    assert result.run.requests == 2
    assert [task_of(r) for r in stub.requests] == ["overview", "window"]


def test_the_token_tables_name_the_check_requests(stub: StubServer, stub_config: Config) -> None:
    yes = Reply({"answer": "yes"})
    stub.push(Reply(OVERVIEW), Reply(_items()), yes, yes, yes)
    config = stub_config.model_copy(update={"strategy": "windows"})
    with Summarizer(config) as s:
        s.summarize(ARTICLE, id="u2", published="2024-11-08")
    assert [task_of(r) for r in stub.requests] == ["overview", "window", *["check"] * 3]
