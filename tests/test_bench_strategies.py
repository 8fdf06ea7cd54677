"""The bench's token tables name each request of the strategies it compares by its task,
against a real OpenAI-protocol server on 127.0.0.1."""

from __future__ import annotations

from bench.tokens import task_of
from summarizer import Summarizer
from summarizer.config import Config
from tests.conftest import ARTICLE, article_reply
from tests.stub_server import Reply, StubServer
from tests.test_selecting import OVERVIEW, _found


def test_the_token_tables_name_the_check_requests(stub: StubServer, stub_config: Config) -> None:
    yes = Reply({"answer": "yes"})
    stub.push(Reply(article_reply()), yes, yes, yes)
    config = stub_config.model_copy(update={"strategy": "checked"})
    with Summarizer(config) as s:
        s.summarize(ARTICLE, id="u2", published="2024-11-08")
    assert [task_of(r) for r in stub.requests] == ["article", *["check"] * 3]


def test_the_token_tables_name_the_select_requests(stub: StubServer, stub_config: Config) -> None:
    stub.push(
        Reply(OVERVIEW),
        Reply({"meetings": [2], "agreements": [], "disputes": []}),
        Reply(_found("meetings")),
        Reply({"answer": "yes"}),
    )
    config = stub_config.model_copy(update={"strategy": "select"})
    with Summarizer(config) as s:
        s.summarize(ARTICLE, id="u3", published="2024-11-08")
    assert [task_of(r) for r in stub.requests] == ["overview", "select", "items", "check"]
