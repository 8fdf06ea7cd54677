"""The peer: google's langextract, pointed at the same llama.cpp server, mapped onto our schema.

langextract is configured as its docs describe for an OpenAI-compatible endpoint: the OpenAI
provider chosen explicitly (its router sends model ids starting with "qwen" to Ollama),
schema constraints off (llama-cpp-python's server rejects the `json_schema` response format
langextract would send; without them it sends `json_object`, which the server enforces as
generic JSON), no code fences, temperature 0. Everything else is langextract's default:
1,000-character chunks, one pass, up to 10 requests in flight (the server serves them one at
a time). Output is capped at 800 tokens per request so a looping answer cannot run to the
end of the context.

The mapping turns each extraction into the compact item our model would have written
(participants/parties/sides from its attributes, its aligned span as the evidence
sentences) and then runs the same resolution as summarizer (`build_summary`: names, dates
against the publication date, evidence, duplicate merging), so both are scored alike.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any, get_args

from summarizer import dates
from summarizer.chunking import split_sentences
from summarizer.extraction import CAgreement, CDispute, CMeeting, CSide, Extraction
from summarizer.merge import merge_duplicates
from summarizer.resolve import Article, build_summary
from summarizer.schema import AgreementStatus, ArticleSummary, DisputeKind, MeetingStatus

PROMPT = """\
Extract every meeting, agreement and dispute that the news article reports, in order of \
appearance. extraction_text must be the exact words of the article that state the event; \
do not paraphrase and do not overlap extractions.
- meeting: an encounter between two or more actors (talks, visits, summits, calls, dinners). \
Attributes: participants (every participant's full name), date (the date words as the \
article writes them, or ""), location, status (held or planned).
- agreement: a treaty, accord, memorandum, contract or deal. Attributes: parties (who is \
bound), name, status (proposed, negotiating, signed, in_force or terminated), count (the \
number of agreements when a bundle is reported as a number, else "").
- dispute: a conflict or disagreement between opposing sides (war, political crisis, \
sanctions, trade or legal fight, public criticism). Attributes: side_a, side_b (the actors \
on each side), issue, kind (military, political, electoral, territorial, trade, legal, \
diplomatic, labor or other).
Report only what the article says. Photo credits and page furniture are not actors."""

EXAMPLE_TEXT = (
    "Valdorian President Ana Ruiz hosted Nordland's Prime Minister Tomas Berg in Porto Alto "
    "on Tuesday. The two leaders signed four agreements on fishing and ports. Ruiz later "
    "dined with Sheikh Faisal, the Emir of Qadar. Ruiz has accused Lusia of moving troops to "
    "their shared border."
)


def examples() -> list[Any]:
    import langextract as lx

    E = lx.data.Extraction
    return [
        lx.data.ExampleData(
            text=EXAMPLE_TEXT,
            extractions=[
                E(
                    "meeting",
                    "Valdorian President Ana Ruiz hosted Nordland's Prime Minister "
                    "Tomas Berg in Porto Alto on Tuesday",
                    attributes={
                        "participants": ["Ana Ruiz", "Tomas Berg"],
                        "date": "on Tuesday",
                        "location": "Porto Alto",
                        "status": "held",
                    },
                ),
                E(
                    "agreement",
                    "The two leaders signed four agreements on fishing and ports",
                    attributes={
                        "parties": ["Ana Ruiz", "Tomas Berg"],
                        "name": "four agreements on fishing and ports",
                        "status": "signed",
                        "count": "4",
                    },
                ),
                E(
                    "meeting",
                    "Ruiz later dined with Sheikh Faisal, the Emir of Qadar",
                    attributes={
                        "participants": ["Ana Ruiz", "Sheikh Faisal"],
                        "date": "",
                        "location": "",
                        "status": "held",
                    },
                ),
                E(
                    "dispute",
                    "Ruiz has accused Lusia of moving troops to their shared border",
                    attributes={
                        "side_a": ["Ana Ruiz"],
                        "side_b": ["Lusia"],
                        "issue": "Ruiz accuses Lusia of moving troops to the border.",
                        "kind": "territorial",
                    },
                ),
            ],
        )
    ]


def model(base_url: str, api_key: str) -> Any:
    import langextract as lx

    config = lx.factory.ModelConfig(
        model_id="local-llama-cpp",  # any id: the server serves its one model
        provider="OpenAILanguageModel",
        provider_kwargs={
            "base_url": base_url,
            "api_key": api_key,
            "temperature": 0.0,
            "max_output_tokens": 800,
        },
    )
    return lx.factory.create_model(config=config, use_schema_constraints=False, fence_output=False)


def extract(text: str, base_url: str, api_key: str) -> tuple[Any, float]:
    import langextract as lx

    logging.getLogger("absl").setLevel(logging.ERROR)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        doc = lx.extract(
            text_or_documents=text,
            prompt_description=PROMPT,
            examples=examples(),
            model=model(base_url, api_key),
            fence_output=False,
            use_schema_constraints=False,
            temperature=0.0,
            show_progress=False,
        )
    return doc, time.perf_counter() - started


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
    return [n.strip() for n in items if str(n).strip()]


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    value = (value or "").strip() if isinstance(value, str) else value
    return value or None


def _choice(value: Any, allowed: Any, default: str) -> str:
    value = (_text(value) or "").lower().replace(" ", "_")
    return value if value in get_args(allowed) else default


def to_summary(article_id: str, text: str, doc: Any) -> tuple[ArticleSummary, dict[str, int]]:
    """langextract's extractions as our ArticleSummary, through our own resolution."""
    sentences = split_sentences(text)
    counts = {"meeting": 0, "agreement": 0, "dispute": 0, "other": 0, "unaligned": 0}
    meetings: list[CMeeting] = []
    agreements: list[CAgreement] = []
    disputes: list[CDispute] = []
    for x in doc.extractions or []:
        attrs = x.attributes or {}
        span = x.char_interval
        if span is not None and span.start_pos is not None and span.end_pos is not None:
            ev: list[int | str] = [
                s.n for s in sentences if s.start < span.end_pos and span.start_pos < s.end
            ][:3]
        else:
            counts["unaligned"] += 1
            ev = [x.extraction_text]
        kind = (x.extraction_class or "").lower()
        if kind == "meeting":
            meetings.append(CMeeting.model_construct(
                ev=ev, who=_names(attrs.get("participants")), when=_text(attrs.get("date")),
                where=_text(attrs.get("location")),
                status=_choice(attrs.get("status"), MeetingStatus, "held"), topics=[],
                outcome=None))  # fmt: skip
        elif kind == "agreement":
            raw_count = _text(attrs.get("count"))
            count = int(raw_count) if raw_count and raw_count.isdigit() else None
            agreements.append(CAgreement.model_construct(
                ev=ev, name=_text(attrs.get("name")) or x.extraction_text,
                parties=_names(attrs.get("parties")), when=_text(attrs.get("date")),
                status=_choice(attrs.get("status"), AgreementStatus, "signed"), areas=[],
                count=count, about=None))  # fmt: skip
        elif kind == "dispute":
            disputes.append(CDispute.model_construct(
                ev=ev, issue=_text(attrs.get("issue")) or x.extraction_text,
                kind=_choice(attrs.get("kind"), DisputeKind, "other"),
                sides=[CSide.model_construct(who=_names(attrs.get(k)), position=None)
                       for k in ("side_a", "side_b")],
                status="ongoing"))  # fmt: skip
        else:
            counts["other"] += 1
            continue
        counts[kind] += 1
    extraction = Extraction.model_construct(
        title=None, lang=None, dateline=None, summary="", actors=[], meetings=meetings,
        agreements=agreements, disputes=disputes,
    )  # fmt: skip
    article = Article(
        id=article_id, text=text, sentences=sentences,
        published=dates.published_from_header(text),
    )  # fmt: skip
    summary, _ = build_summary(extraction, article)
    return merge_duplicates(summary), counts
