"""`summarizer run --dry-run`: every request a strategy would make, counted without a model.

Through the real command against the loopback stub, which must receive nothing; the token
counting itself with a given tokenize function, since a real GGUF is not part of the tests.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from summarizer.checking import EXPECTED_ITEMS_PER_CHUNK
from summarizer.chunking import split_sentences
from summarizer.config import DEFAULT_EMBEDDED_MODEL, Config, default_cache_dir
from summarizer.gguf import assembled_path
from summarizer.pipeline import Summarizer
from summarizer.selecting import EXPECTED_PICK_EVERY
from summarizer.tokens import gguf_counter, plain_text, prompt_counter, tokenizer_counter
from tests.conftest import article_reply
from tests.stub_server import Reply, StubServer
from tests.support import invoke, write_config, write_stories

LONG = "\n".join(
    f"On day {n} the foreign minister of country {n} met the envoy of country {n + 1} in the "
    f"capital and both sides said the talks about trade, energy and security went well."
    for n in range(1, 31)
)


def dry_run(config: Path, folder: Path, text: str) -> str:
    folder.mkdir()
    (folder / "long.txt").write_text(text, encoding="utf-8")
    result = invoke(config, str(folder), "--out", str(folder.parent / "out.jsonl"), "--dry-run")
    assert result.exit_code == 0, result.output
    assert not (folder.parent / "out.jsonl").exists()
    return result.stdout


def test_select_counts_its_exact_requests_and_its_expected_follow_ups(
    stub: StubServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "s.toml", stub, strategy="select")
    sentences = split_sentences(LONG)
    picks = len(sentences[::EXPECTED_PICK_EVERY])
    assert picks >= 3
    out = dry_run(config, tmp_path / "in", LONG)
    assert stub.requests == []
    # an overview and one selection, exact; an items request and a check per pick, estimated
    assert f"{2 + 2 * picks} requests (2 exact, ~{2 * picks} estimated)" in out
    assert f"estimated requests assume one sentence in {EXPECTED_PICK_EVERY} selected" in out
    assert "prompt tokens estimated at about 3.5 characters a token (the endpoint is remote" in out


def test_checked_counts_one_extraction_a_chunk_and_its_expected_checks(
    stub: StubServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "c.toml", stub, strategy="checked", context_tokens=2048)
    with Summarizer(Config.load(config)) as summarizer:
        chunks = len(summarizer.chunks(summarizer.article(LONG)))
    assert chunks > 1
    checks = EXPECTED_ITEMS_PER_CHUNK * chunks
    out = dry_run(config, tmp_path / "in", LONG)
    assert stub.requests == []
    assert f"{chunks + checks} requests ({chunks} exact, ~{checks} estimated)" in out


def test_article_strategy_is_one_exact_request_per_chunk(stub: StubServer, tmp_path: Path) -> None:
    config = write_config(tmp_path / "a.toml", stub, context_tokens=2048)
    with Summarizer(Config.load(config)) as summarizer:
        chunks = summarizer.chunks(summarizer.article(LONG))
    assert len(chunks) > 1
    out = dry_run(config, tmp_path / "in", LONG)
    assert stub.requests == []
    assert f"1 article to summarise, {len(chunks)} requests, " in out
    assert "estimated requests" not in out


def test_cost_is_the_prompts_plus_the_whole_output_budget(stub: StubServer, tmp_path: Path) -> None:
    config = write_config(tmp_path / "p.toml", stub, price_per_mtok=[1.0, 10.0])
    out = dry_run(config, tmp_path / "in", LONG)
    found = re.search(
        r"([\d,]+) prompt tokens, at most ([\d,]+) output tokens, at most ~\$(\S+)", out
    )
    assert found, out
    prompt, output = (int(found.group(i).replace(",", "")) for i in (1, 2))
    assert prompt > 0 and output > 0
    assert float(found.group(3)) == pytest.approx((prompt + 10 * output) / 1e6, abs=1e-4)


def test_embedded_model_not_assembled_is_estimated_and_never_assembled(tmp_path: Path) -> None:
    config = tmp_path / "embedded.toml"
    config.write_text('strategy = "article"\n')
    out = dry_run(config, tmp_path / "in", LONG)
    assert "1 article to summarise, 1 request, " in out
    assert "3.5 characters a token (the model file is not assembled yet" in out
    assert not (tmp_path / "cache" / "models").exists()


def test_a_model_file_that_is_no_gguf_falls_back_with_its_reason(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model")
    counter = prompt_counter(Config(model=str(bogus), cache_dir=tmp_path / "cache"))
    assert not counter.exact
    assert "is not a GGUF model file" in counter.tokenizer
    messages = [{"role": "user", "content": "x" * 35}]
    assert counter.count(messages) == 11  # 35 characters at 3.5 a token, rounded up


def test_a_tokenizer_counts_the_rendered_prompt() -> None:
    seen: list[bytes] = []

    def tokenize(data: bytes) -> list[int]:
        seen.append(data)
        return list(range(len(data.split())))

    counter = tokenizer_counter(tokenize, plain_text, "words.gguf")
    messages = [
        {"role": "system", "content": "You extract meetings."},
        {"role": "user", "content": "Leaders met in Caracas on Monday."},
    ]
    assert counter.exact
    assert counter.tokenizer == "counted with the tokenizer of words.gguf"
    assert counter.count(messages) == 9
    assert seen == [b"You extract meetings.\nLeaders met in Caracas on Monday."]


def test_the_model_files_own_tokenizer_counts_the_chat_template(tmp_path: Path) -> None:
    """With the default model already assembled on this machine (never assembled here)."""
    path = assembled_path(DEFAULT_EMBEDDED_MODEL, default_cache_dir())
    if path is None:
        pytest.skip("the default model file is not assembled on this machine")
    counter = gguf_counter(path)
    messages = [{"role": "user", "content": "Leaders met in Caracas on Monday."}]
    assert counter.exact
    assert counter.tokenizer == f"counted with the tokenizer of {path.name}"
    # the template's role markers count: more than the words' own tokens
    assert counter.count(messages) > tokenizer_counter(
        lambda data: data.split(), plain_text, "words"
    ).count(messages)


def test_articles_answered_in_the_cache_cost_nothing(stub: StubServer, tmp_path: Path) -> None:
    stub.default = lambda request: Reply(article_reply())
    config = write_config(tmp_path / "c.toml", stub)
    write_stories(tmp_path / "in", 3)
    first = tmp_path / "first.jsonl"
    assert invoke(config, str(tmp_path / "in"), "--out", str(first)).exit_code == 0
    write_stories(tmp_path / "in", 1, first=3)  # one new article
    sent = len(stub.requests)
    result = invoke(config, str(tmp_path / "in"), "--out", str(tmp_path / "o.jsonl"), "--dry-run")
    assert result.exit_code == 0, result.output
    assert len(stub.requests) == sent
    assert "dry run: 1 article to summarise, 1 request, " in result.stdout
    assert "; 3 more answered in the cache (free)" in result.stdout
