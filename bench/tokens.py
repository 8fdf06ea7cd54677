"""Where the prompt tokens go: the model's own tokenizer (vocab only, no weights) over the
parts of each recorded request.

Counts are per part; parts do not add up exactly (a token can span a boundary), so the
chat template's share is what the server's prompt_tokens leaves over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from summarizer.chunking import split_sentences
from summarizer.prompts import load_prompts, number_sentences


class Tokenizer:
    def __init__(self, model_file: Path) -> None:
        from llama_cpp import Llama

        self._llama = Llama(model_path=str(model_file), vocab_only=True, verbose=False)

    @lru_cache(maxsize=4096)  # noqa: B019 - one tokenizer per run
    def count(self, text: str) -> int:
        if not text:
            return 0
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))


TASK_STARTS = {
    "overview": "Give: title",
    "classify": "Question about sentence",
    "items": "Sentence [",
    "article": "Go through the article",
    "select": "Which sentences report",
    "check": "Check one ",
}


def task_of(body: dict[str, Any]) -> str:
    user = body["messages"][-1]["content"]
    tail = user.rsplit("</article>", 1)[-1].strip()
    for task, start in TASK_STARTS.items():
        if tail.startswith(start):
            return task
    return "other"


@dataclass
class Parts:
    """Token counts of one request's parts."""

    task: str
    prompt_tokens: int  # as the server counted them (chat template included)
    system: int
    example: int
    wrapper: int  # "<article>" tags and the Title/Published lines
    numbering: int  # "[n] " and line breaks, beyond the sentences themselves
    sentences: int  # the article's sentences, as sent
    task_tail: int  # the question after the article (including any quoted sentence)
    quoted: int  # of which: the sentence quoted in the question
    template: int  # what the chat template adds (prompt_tokens minus the message texts)
    schema_chars: int  # JSON schema sent for the grammar (characters, not prompt tokens)


def request_parts(tok: Tokenizer, body: dict[str, Any], prompt_tokens: int) -> Parts:
    system_msg = body["messages"][0]["content"]
    user = body["messages"][-1]["content"]
    prompts = load_prompts()
    base_system = prompts["system.txt"].strip()
    example = system_msg[len(base_system) :] if system_msg.startswith(base_system) else ""
    head, _, tail = user.rpartition("</article>")
    article_block = head + "</article>"
    opening = article_block.find("<article>\n")
    body_text = article_block[opening + len("<article>\n") : -len("\n</article>")]
    sentence_lines = [line.split("] ", 1)[-1] for line in body_text.split("\n")]
    n_system = tok.count(system_msg)
    n_example = tok.count(example.strip()) if example else 0
    n_block = tok.count(article_block)
    n_numbered = tok.count(body_text)
    n_sentences = sum(tok.count(s) for s in sentence_lines)
    task_tail = tail.strip()
    quoted = ""
    if '"' in task_tail:
        first, last = task_tail.find('"'), task_tail.rfind('"')
        quoted = task_tail[first + 1 : last] if last > first else ""
    n_user = tok.count(user)
    schema = body.get("response_format", {}).get("schema")
    return Parts(
        task=task_of(body),
        prompt_tokens=prompt_tokens,
        system=n_system - n_example,
        example=n_example,
        wrapper=n_block - n_numbered,
        numbering=n_numbered - n_sentences,
        sentences=n_sentences,
        task_tail=tok.count(task_tail),
        quoted=tok.count(quoted),
        template=prompt_tokens - n_system - n_user,
        schema_chars=len(str(schema)) if schema else 0,
    )


@dataclass
class ArticleTokens:
    """One article's prompt tokens under one strategy."""

    article: str
    text_tokens: int  # the article text as the user supplied it
    requests: int = 0
    prompt_tokens: int = 0  # as billed: every request's whole prompt
    fresh_tokens: int = 0  # evaluated by the model (the rest came from the KV cache)
    completion_tokens: int = 0
    by_part: dict[str, int] = field(default_factory=dict)  # summed over requests
    by_task: dict[str, int] = field(default_factory=dict)  # request counts
    requests_detail: list[dict[str, object]] = field(default_factory=list)

    @property
    def beyond(self) -> int:
        return self.prompt_tokens - self.text_tokens

    @property
    def fresh_beyond(self) -> int:
        return self.fresh_tokens - self.text_tokens


def article_tokens(tok: Tokenizer, article_id: str, text: str, exchanges, blocks) -> ArticleTokens:  # type: ignore[no-untyped-def]
    out = ArticleTokens(article=article_id, text_tokens=tok.count(text))
    for i, ex in enumerate(exchanges):
        usage = ex.usage or {}
        pt = int(usage.get("prompt_tokens") or 0)
        out.requests += 1
        out.prompt_tokens += pt
        out.completion_tokens += int(usage.get("completion_tokens") or 0)
        if i < len(blocks):
            out.fresh_tokens += blocks[i].fresh
        parts = request_parts(tok, ex.body, pt)
        detail = dict(vars(parts))
        detail.update(
            completion_tokens=int(usage.get("completion_tokens") or 0),
            seconds=round(ex.seconds, 3),
            fresh=blocks[i].fresh if i < len(blocks) else None,
            cached=blocks[i].cached if i < len(blocks) else None,
            prompt_ms=blocks[i].prompt_ms if i < len(blocks) else None,
            gen_ms=blocks[i].gen_ms if i < len(blocks) else None,
        )
        out.requests_detail.append(detail)
        out.by_task[parts.task] = out.by_task.get(parts.task, 0) + 1
        for name in ("system", "example", "template", "wrapper", "numbering", "sentences",
                     "task_tail", "quoted"):  # fmt: skip
            out.by_part[name] = out.by_part.get(name, 0) + getattr(parts, name)
        out.by_part.setdefault("schema_chars", 0)
        out.by_part["schema_chars"] += parts.schema_chars
    return out


def sentence_text_tokens(tok: Tokenizer, text: str) -> tuple[int, int]:
    """(tokens of the raw text, tokens of its numbered form) for one article."""
    sentences = split_sentences(text)
    return tok.count(text), tok.count(number_sentences(sentences))
