"""summarize() end to end against a real OpenAI-protocol server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from summarizer import EndpointError, ExtractionError, InputError, Summarizer, pipeline, reuse
from summarizer.config import Config
from summarizer.prompts import PROMPTS_ENV, prompt_version, prompts_dir
from tests.conftest import ARTICLE, article_reply
from tests.stub_server import Reply, StubServer


def test_valid_extraction(stub: StubServer, stub_config: Config) -> None:
    stub.push(Reply(article_reply()))
    with Summarizer(stub_config) as s:
        result = s.summarize(ARTICLE, id="a1", published="2024-11-08")
    summary = result.summary
    assert summary.id == "a1"
    assert summary.title == "Leaders meet in Caracas"
    [meeting] = summary.meetings
    # "Maduro" in the item resolves to the actor's fullest form, with role and affiliation.
    assert [p.name for p in meeting.participants] == ["Nicolás Maduro", "Dmitry Chernyshenko"]
    assert meeting.participants[0].affiliation == "Venezuela"
    assert meeting.evidence[0].grounded
    ev = meeting.evidence[0]
    assert ARTICLE[ev.start : ev.end] == ev.quote
    assert summary.agreements[0].count == 17
    assert len(summary.disputes[0].sides) == 2
    assert result.run.prompt_version == prompt_version()
    assert result.run.prompt_tokens == 100 and result.run.completion_tokens == 50
    assert not result.run.cache_hit and result.run.reasks == 0
    # The article is delimited data after the fixed instructions.
    messages = stub.requests[0]["messages"]
    assert messages[0]["role"] == "system"
    assert "<article>" in messages[1]["content"] and "[2] Venezuelan" in messages[1]["content"]


def test_relative_date_resolved_against_published(stub: StubServer, stub_config: Config) -> None:
    stub.push(Reply(article_reply()))
    with Summarizer(stub_config) as s:
        result = s.summarize(ARTICLE, published="2024-11-08")  # a Friday
    assert result.summary.meetings[0].date == "2024-11-07"
    assert result.summary.published.isoformat() == "2024-11-08"


def test_invalid_output_is_reasked_with_the_error(stub: StubServer, stub_config: Config) -> None:
    one_sided = article_reply()
    one_sided["meetings"][0]["who"] = ["Nicolás Maduro"]
    stub.push(Reply(one_sided), Reply(article_reply()))
    with Summarizer(stub_config) as s:
        result = s.summarize(ARTICLE)
    assert len(stub.requests) == 2
    assert result.run.reasks == 1
    reask = stub.requests[1]["messages"]
    assert reask[-2]["role"] == "assistant"
    assert "two or more participants" in reask[-1]["content"]
    # Only the validation error goes back: the context grows by one answer and one message.
    assert len(reask) == len(stub.requests[0]["messages"]) + 2
    assert len(result.summary.meetings) == 1


def test_reasks_exhausted_keeps_valid_items(stub: StubServer, stub_config: Config) -> None:
    bad = article_reply()
    bad["meetings"][0]["who"] = ["Nicolás Maduro"]
    stub.push(*[Reply(bad)] * 3)
    with Summarizer(stub_config) as s:
        result = s.summarize(ARTICLE)
    assert len(stub.requests) == 3  # one ask + max_reasks (2)
    assert result.summary.meetings == []
    assert len(result.summary.agreements) == 1
    assert any("re-asks" in w for w in result.run.warnings)
    assert any("dropped meetings[0]" in w for w in result.run.warnings)


def test_unparseable_output_fails_carrying_the_raw_answer(
    stub: StubServer, stub_config: Config
) -> None:
    stub.push(*[Reply("this is not json")] * 3)
    with Summarizer(stub_config) as s, pytest.raises(ExtractionError) as info:
        s.summarize(ARTICLE)
    assert info.value.raw == "this is not json"


def test_output_cut_by_max_tokens_is_salvaged(stub: StubServer, stub_config: Config) -> None:
    full = json.dumps(article_reply())
    cut = full[: full.index('"disputes"') + 30]  # mid-way through the disputes list
    stub.push(Reply(cut, finish_reason="length"))
    with Summarizer(stub_config) as s:
        result = s.summarize(ARTICLE)
    assert len(result.summary.meetings) == 1 and len(result.summary.agreements) == 1
    assert result.summary.disputes == []
    assert any("cut off" in w for w in result.run.warnings)


def test_429_with_retry_after_then_success(stub: StubServer, stub_config: Config) -> None:
    stub.push(
        Reply(status=429, headers={"Retry-After": "1"}, body=b'{"error": {"message": "slow"}}'),
        Reply(article_reply()),
    )
    with Summarizer(stub_config) as s:
        result = s.summarize(ARTICLE)
    assert len(stub.requests) == 2
    assert len(result.summary.meetings) == 1
    # Transport errors never enter the prompt.
    assert stub.requests[0]["messages"] == stub.requests[1]["messages"]


def test_5xx_until_attempts_run_out(stub: StubServer, stub_config: Config) -> None:
    body = b'{"error": {"message": "model overloaded"}}'
    stub.push(*[Reply(status=503, body=body)] * 10)
    with Summarizer(stub_config) as s, pytest.raises(EndpointError) as info:
        s.summarize(ARTICLE)
    assert len(stub.requests) == stub_config.max_attempts
    assert stub.base_url in info.value.reason and "503" in info.value.reason
    assert "model overloaded" in (info.value.raw or "")


def test_dropped_connection_is_retried(stub: StubServer, stub_config: Config) -> None:
    stub.push(Reply(drop=True), Reply(article_reply()))
    with Summarizer(stub_config) as s:
        assert len(s.summarize(ARTICLE).summary.meetings) == 1
    assert len(stub.requests) == 2


def test_ungrounded_quote_is_flagged_and_strict_drops_it(
    stub: StubServer, stub_config: Config
) -> None:
    reply = article_reply()
    reply["agreements"][0]["ev"] = ["Russia promised to build a nuclear plant on the Moon."]
    stub.push(Reply(reply), Reply(reply))
    with Summarizer(stub_config) as s:
        flagged = s.summarize(ARTICLE)
    [agreement] = flagged.summary.agreements
    assert not agreement.evidence[0].grounded
    assert any("ungrounded agreement" in w for w in flagged.run.warnings)
    strict = stub_config.model_copy(update={"strict": True})
    with Summarizer(strict) as s:
        assert s.summarize(ARTICLE).summary.agreements == []  # served from the cache


def test_quote_spans_on_accents_and_nbsp(stub: StubServer, stub_config: Config) -> None:
    text = (
        "Reunión en Bogotá\n\n"
        "El presidente Gustavo\u00a0Petro se reunió con Luiz Inácio Lula da Silva en Brasília. "
        "Ambos firmaron un acuerdo energético."
    )
    reply = article_reply(
        actors=[
            {"name": "Gustavo Petro", "kind": "person", "role": None, "of": "Colombia"},
            {"name": "Luiz Inácio Lula da Silva", "kind": "person", "role": None, "of": "Brazil"},
        ],
        meetings=[
            {
                "who": ["Gustavo Petro", "Luiz Inácio Lula da Silva"],
                "when": None,
                "where": "Brasília",
                "status": "held",
                "topics": [],
                "outcome": None,
                # The model normalised the NBSP to a plain space: grounding must still find it.
                "ev": ["Gustavo Petro se reunió con Luiz Inácio Lula da Silva en Brasília"],
            }
        ],
        agreements=[],
        disputes=[],
    )
    stub.push(Reply(reply))
    with Summarizer(stub_config) as s:
        result = s.summarize(text)
    ev = result.summary.meetings[0].evidence[0]
    assert ev.grounded
    assert (
        text[ev.start : ev.end]
        == "Gustavo\u00a0Petro se reunió con Luiz Inácio Lula da Silva en Brasília"
    )
    assert ev.quote == text[ev.start : ev.end]


def test_cache_hit_sends_no_request(stub: StubServer, stub_config: Config) -> None:
    stub.push(Reply(article_reply()))
    with Summarizer(stub_config) as s:
        first = s.summarize(ARTICLE, id="x")
    with Summarizer(stub_config) as s:  # a new instance: the cache is on disk
        second = s.summarize(ARTICLE, id="x")
    assert len(stub.requests) == 1
    assert second.run.cache_hit and not first.run.cache_hit
    assert second.summary == first.summary
    assert (stub_config.cache_dir / "responses").is_dir()


def test_a_repeated_article_is_its_kept_result_not_a_rebuild(
    stub: StubServer, stub_config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.push(Reply(article_reply()))
    with Summarizer(stub_config) as s:
        first = s.summarize(ARTICLE, id="x")
    splits: list[str] = []
    real_split = pipeline.split_sentences
    monkeypatch.setattr(pipeline, "split_sentences", lambda t: splits.append(t) or real_split(t))
    with Summarizer(stub_config) as s:
        kept = s.summarize(ARTICLE, id="x")
        assert splits == []  # the finished result: no sentence splitting, no request keys
        assert kept.summary == first.summary and kept.run.cache_hit
        assert s.summarize(ARTICLE, id="y").summary.id == "y"  # the id is part of the key
        assert len(splits) == 1  # rebuilt from the cached answer: same request, no new one
        other = stub_config.model_copy(update={"strict": True})
    with Summarizer(other) as s:  # a setting that shapes the result is part of the key too
        assert s.summarize(ARTICLE, id="x").run.cache_hit
    assert len(splits) == 2 and len(stub.requests) == 1


def test_changed_code_rebuilds_results_from_the_cached_answers(
    stub: StubServer, stub_config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.push(Reply(article_reply()))
    with Summarizer(stub_config) as s:
        first = s.summarize(ARTICLE, id="x")
    monkeypatch.setattr(reuse, "code_version", lambda: "a later commit")
    monkeypatch.setattr(pipeline, "merge_duplicates", lambda summary: summary.model_copy(
        update={"summary": "made by the new code"}))  # fmt: skip
    with Summarizer(stub_config) as s:
        rebuilt = s.summarize(ARTICLE, id="x")
    assert len(stub.requests) == 1 and rebuilt.run.cache_hit  # no new request...
    assert rebuilt.summary.summary == "made by the new code" != first.summary.summary


def test_refresh_and_off_bypass_the_cache(stub: StubServer, stub_config: Config) -> None:
    stub.push(*[Reply(article_reply())] * 3)
    with Summarizer(stub_config) as s:
        s.summarize(ARTICLE)
    for policy in ("refresh", "off"):
        with Summarizer(stub_config.model_copy(update={"cache": policy})) as s:
            assert not s.summarize(ARTICLE).run.cache_hit
    assert len(stub.requests) == 3


def test_edited_prompt_changes_version_and_misses_cache(
    stub: StubServer, stub_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edited = tmp_path / "prompts"
    shutil.copytree(prompts_dir(), edited)
    monkeypatch.setenv(PROMPTS_ENV, str(edited))
    stub.push(*[Reply(article_reply())] * 2)
    with Summarizer(stub_config) as s:
        before = s.summarize(ARTICLE)
        system = edited / "system.txt"
        system.write_text(system.read_text() + "\nBe brief.\n")
        after = s.summarize(ARTICLE)
    assert before.run.prompt_version != after.run.prompt_version
    assert not after.run.cache_hit
    assert len(stub.requests) == 2
    assert "Be brief." in stub.requests[1]["messages"][0]["content"]


def test_async_summarize(stub: StubServer, stub_config: Config) -> None:
    stub.push(Reply(article_reply()), Reply(article_reply()))

    async def both() -> list[str]:
        with Summarizer(stub_config) as s:
            results = await asyncio.gather(
                s.asummarize(ARTICLE, id="one"), s.asummarize(ARTICLE + " More.", id="two")
            )
        return [r.summary.id for r in results]

    assert asyncio.run(both()) == ["one", "two"]
    assert len(stub.requests) == 2


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty"), ("   \n\t ", "empty"), ("abc\x00def", "binary")],
)
def test_bad_input_raises_typed_error(stub_config: Config, text: str, reason: str) -> None:
    with Summarizer(stub_config) as s, pytest.raises(InputError, match=reason):
        s.summarize(text)


def test_too_long_article_names_the_limit(stub_config: Config) -> None:
    config = stub_config.model_copy(update={"max_chars": 1000})
    with Summarizer(config) as s, pytest.raises(InputError, match="limit is 1,000"):
        s.summarize("word " * 500)


def test_api_key_never_stored_or_output(stub: StubServer, stub_config: Config) -> None:
    stub.push(Reply(article_reply()))
    with Summarizer(stub_config) as s:
        result = s.summarize(ARTICLE)
    secret = stub_config.api_key.get_secret_value()
    assert stub.headers[0]["authorization"] == f"Bearer {secret}"  # it is sent...
    assert secret not in result.model_dump_json()  # ...but never kept
    for path in (stub_config.cache_dir).rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes()


def test_jinja_delimiters_in_an_article_stay_text(stub: StubServer, stub_config: Config) -> None:
    """instructor renders messages as Jinja templates: an article's own {{ }} and {% %}
    must neither be evaluated nor break the request."""
    stub.push(Reply(article_reply()))
    with Summarizer(stub_config) as s:
        s.summarize(ARTICLE + "\nThe template read {{ lenient }} and {% if x %}.")
    user = stub.requests[0]["messages"][1]["content"]
    assert "{ { lenient }}" in user and "{ % if x %}" in user


def test_a_citation_written_as_text_is_a_sentence_not_a_quote(
    stub: StubServer, stub_config: Config
) -> None:
    """ "4" is sentence 4, never the digit found somewhere else in the article."""
    reply = article_reply()
    reply["disputes"][0]["ev"] = ["4"]
    reply["agreements"][0]["ev"] = ["[3]"]
    stub.push(Reply(reply))
    with Summarizer(stub_config) as s:
        summary = s.summarize(ARTICLE, id="c1").summary
    [quote] = summary.disputes[0].evidence
    assert quote.quote == "The United States criticised the deals." and quote.grounded
    assert [e.quote for e in summary.agreements[0].evidence] == [
        "The two governments signed 17 agreements on energy and security."
    ]


def test_a_headline_alone_is_no_evidence(stub: StubServer, stub_config: Config) -> None:
    text = ARTICLE.replace("Leaders meet in Caracas", "Maduro meets Chernyshenko in Caracas")
    reply = article_reply()
    reply["meetings"][0]["ev"] = [1]  # the headline
    stub.push(Reply(reply))
    with Summarizer(stub_config) as s:
        result = s.summarize(text, id="h1")
    [meeting] = result.summary.meetings  # kept, but flagged: it is not grounded
    assert not any(e.grounded for e in meeting.evidence)
    assert any("ungrounded meeting" in w for w in result.run.warnings)


def test_a_byline_cited_as_a_sentence_is_no_evidence(stub: StubServer, stub_config: Config) -> None:
    text = ARTICLE.replace("Leaders meet in Caracas\n\n", "Leaders meet in Caracas\nBy AFP\n\n")
    reply = article_reply()
    reply["meetings"][0]["ev"] = [2, 3]  # "By AFP", then the sentence that reports the meeting
    stub.push(Reply(reply))
    with Summarizer(stub_config) as s:
        [meeting] = s.summarize(text, id="b1").summary.meetings
    assert [e.quote[:22] for e in meeting.evidence] == ["Venezuelan President N"]
