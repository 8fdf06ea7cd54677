"""Strategies only for the benchmark, registered through the library's public seam
(`summarizer.strategies.register`), to show what the library's own ones cost and buy.

"kinds" sits between "article" (everything in one call) and the per-sentence or
per-sentence `select`: an overview, then one call for all meetings, one for all
agreements, one for all disputes. It reuses the library's prompts and response models; the
task prompt and the list models (which, unlike the per-sentence ones, may be empty) live
here. A Summarizer configured with strategy="kinds" runs it while `kinds_prompt()` is active.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field

from bench.core import env
from summarizer.chunking import Sentence
from summarizer.extraction import Actors, CAgreement, CDispute, CMeeting, Overview
from summarizer.extraction import _Items as Items
from summarizer.prompts import PROMPTS_ENV, prompts_dir
from summarizer.strategies import TASK_TOKENS, Ask, Plan, combined, register

TASK_KINDS = (
    "List EVERY one of the $kinds that the article reports, going through it sentence by "
    "sentence: one item per distinct occasion, with all its actors. If it reports none, "
    "give an empty list.\n"
)


class AllMeetings(Items):
    actors: Actors
    meetings: Annotated[list[CMeeting], Field(max_length=20)]


class AllAgreements(Items):
    actors: Actors
    agreements: Annotated[list[CAgreement], Field(max_length=15)]


class AllDisputes(Items):
    actors: Actors
    disputes: Annotated[list[CDispute], Field(max_length=10)]


KINDS: dict[str, type[Items]] = {
    "meetings": AllMeetings,
    "agreements": AllAgreements,
    "disputes": AllDisputes,
}


@register("kinds")
def kinds_plan(chunks: list[list[Sentence]]) -> Plan:
    overview = yield Ask("overview", Overview, TASK_TOKENS["overview"], chunks[0], required=True)
    assert isinstance(overview, Overview)
    found: list[BaseModel] = []
    for chunk in chunks:
        budget = min(1200, 250 + 12 * len(chunk))
        for kinds, model in KINDS.items():
            answer = yield Ask("kinds", model, budget, chunk, vars={"kinds": kinds})
            if answer is not None:
                found.append(answer)
    return combined(overview, found)


@contextlib.contextmanager
def kinds_prompt() -> Iterator[None]:
    """The library's prompt files plus the "kinds" task prompt, for the duration."""
    scratch = Path(tempfile.mkdtemp(prefix="summarizer-bench-prompts-"))
    for path in prompts_dir().glob("*.txt"):
        shutil.copy(path, scratch / path.name)
    (scratch / "task_kinds.txt").write_text(TASK_KINDS, encoding="utf-8")
    try:
        with env(PROMPTS_ENV, str(scratch)):
            yield
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
