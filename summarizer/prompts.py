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
from summarizer.extraction import FOUND, Check, Extraction, Overview, Selected, SentenceReport
from summarizer.schema import ArticleSummary

PROMPTS_ENV = "SUMMARIZER_PROMPTS_DIR"
# Our delimiter and chat-template tokens inside an article are defused so they stay data.
_CONTROL = re.compile(
    # instructor renders messages as Jinja templates, so Jinja delimiters are defused too
    r"</?article>|<\|[^|<>]{1,40}\|>|<</?SYS>>|\[/?INST\]|<(?:start|end)_of_turn>|\{[{%#]",
    re.IGNORECASE,
)


def prompts_dir() -> Path:
    """`$SUMMARIZER_PROMPTS_DIR`, else prompts/ (installed as `summarizer.prompt_files`)."""
    if env := os.environ.get(PROMPTS_ENV):
        return Path(env)
    return Path(str(resources.files("summarizer.prompt_files")))


@cache
def _read(directory: Path, stamp: tuple[tuple[str, int], ...]) -> dict[str, str]:
    return {name: (directory / name).read_text(encoding="utf-8") for name, _ in stamp}


def load_prompts(directory: Path | None = None) -> dict[str, str]:
    """Every prompt file (`*.txt`), re-read whenever one of them changes on disk."""
    directory = directory or prompts_dir()
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(directory.glob("*.txt")))
    if not stamp:
        raise FileNotFoundError(f"no prompt files (*.txt) in {directory}")
    return _read(directory, stamp)


@cache  # the models are fixed at import; pydantic would rebuild the schemas on every call
def schema_json() -> str:
    """Both schemas, canonically serialised: a schema change is a prompt change."""
    return json.dumps(
        [
            m.model_json_schema()
            for m in (
                Extraction,
                Overview,
                SentenceReport,
                Check,
                Selected,
                *FOUND.values(),
                ArticleSummary,
            )
        ],
        sort_keys=True,
    )


def prompt_version(directory: Path | None = None) -> str:
    """A short content hash of the prompt files and the schemas."""
    h = hashlib.sha256()
    for name, text in sorted(load_prompts(directory).items()):  # every file, any name
        h.update(name.encode() + b"\0" + text.encode() + b"\0")
    h.update(schema_json().encode())
    return h.hexdigest()[:16]


def _defuse(match: re.Match[str]) -> str:
    """A space after the first character: still readable, no longer a token or a tag."""
    text = match.group()
    return text[0] + " " + text[1:]


def number_sentences(sentences: list[Sentence]) -> str:
    return "\n".join(f"[{s.n}] {s.text}" for s in sentences)


def build_messages(
    sentences: list[Sentence],
    task: str,
    *,
    title: str | None = None,
    published: dt.date | None = None,
    example: bool = False,
    directory: Path | None = None,
    **task_vars: object,
) -> list[dict[str, str]]:
    """Instructions first, then the delimited article, then the task.

    Every request about one article shares the system message and the article, so a local
    model reuses their KV cache: across articles for the instructions, across the questions
    about one article for the article too.
    """
    prompts = load_prompts(directory)
    system = prompts["system.txt"].strip()
    if example:
        system += "\n\n" + prompts["example.txt"].strip()
    known = (("Title", title), ("Published", published))
    context = "".join(  # the title is the caller's data too: defused like the article
        f"{label}: {_CONTROL.sub(_defuse, ' '.join(str(value).split()))}\n"
        for label, value in known
        if value
    )
    body = _CONTROL.sub(_defuse, number_sentences(sentences))
    article = Template(prompts["article.txt"]).substitute(context=context, sentences=body)
    vars_ = {k: _CONTROL.sub(_defuse, str(v)) for k, v in task_vars.items()}
    instruction = Template(prompts[f"task_{task}.txt"]).substitute(vars_)
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": article.strip() + "\n\n" + instruction.strip()},
    ]


def cue_sentences(sentences: list[Sentence], directory: Path | None = None) -> list[Sentence]:
    """Sentences with a word that may signal a meeting, agreement or dispute (`cues.txt`)."""
    lines = load_prompts(directory)["cues.txt"].splitlines()
    words = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    cue = re.compile(r"\b(?:" + "|".join(f"(?:{w})" for w in words) + ")", re.IGNORECASE)
    return [s for s in sentences if cue.search(s.text)]
