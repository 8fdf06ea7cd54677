"""Prompt files, the messages built from them, and the prompt version.

The fixed instructions go first (system message) and the article last, so a local model's
KV cache of the instructions is reused from one article to the next. The prompt version
hashes the prompt files and both schemas: it is stored with every result, cache key and
eval baseline, so a changed prompt can never pass for an old one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from functools import cache
from importlib import resources
from pathlib import Path
from string import Template

from summarizer.chunking import Sentence
from summarizer.extraction import Extraction
from summarizer.schema import ArticleSummary

PROMPTS_ENV = "SUMMARIZER_PROMPTS_DIR"
FILES = ("system.txt", "article.txt")
# Our delimiter and chat-template tokens inside an article are defused so they stay data.
_CONTROL = re.compile(r"</?article>|<\|[^|<>]{1,40}\|>|<</?SYS>>|\[/?INST\]", re.IGNORECASE)


def prompts_dir() -> Path:
    """`$SUMMARIZER_PROMPTS_DIR`, else prompts/ (installed as `summarizer.prompt_files`)."""
    if env := os.environ.get(PROMPTS_ENV):
        return Path(env)
    return Path(str(resources.files("summarizer.prompt_files")))


@cache
def _read(directory: Path, stamp: tuple[float, ...]) -> dict[str, str]:
    return {name: (directory / name).read_text(encoding="utf-8") for name in FILES}


def load_prompts(directory: Path | None = None) -> dict[str, str]:
    """The prompt files, re-read whenever one of them changes on disk."""
    directory = directory or prompts_dir()
    stamp = tuple((directory / name).stat().st_mtime_ns for name in FILES)
    return _read(directory, stamp)


def schema_json() -> str:
    """Both schemas, canonically serialised: a schema change is a prompt change."""
    return json.dumps(
        [Extraction.model_json_schema(), ArticleSummary.model_json_schema()], sort_keys=True
    )


def prompt_version(directory: Path | None = None) -> str:
    """A short content hash of the prompt files and the schemas."""
    h = hashlib.sha256()
    for name, text in sorted(load_prompts(directory).items()):
        h.update(name.encode() + b"\0" + text.encode() + b"\0")
    h.update(schema_json().encode())
    return h.hexdigest()[:16]


def _defuse(match: re.Match[str]) -> str:
    return match.group().replace("<", "< ").replace("[", "[ ")


def number_sentences(sentences: list[Sentence]) -> str:
    return "\n".join(f"[{s.n}] {s.text}" for s in sentences)


def build_messages(
    sentences: list[Sentence],
    *,
    title: str | None = None,
    published: dt.date | None = None,
    directory: Path | None = None,
) -> list[dict[str, str]]:
    """System instructions first, then the delimited article with whatever context is known."""
    prompts = load_prompts(directory)
    context = "".join(
        f"{label}: {value}\n"
        for label, value in (("Title", title), ("Published", published))
        if value
    )
    body = _CONTROL.sub(_defuse, number_sentences(sentences))
    user = Template(prompts["article.txt"]).substitute(context=context, sentences=body)
    return [
        {"role": "system", "content": prompts["system.txt"].strip()},
        {"role": "user", "content": user.strip()},
    ]
