"""End to end on the real embedded model: one short seed article, nothing scripted.

Marked `model` (about a minute or two on 2 cores); deselect with `-m "not model"`.
"""

from __future__ import annotations

import pytest

from summarizer import Config, Summarizer
from summarizer.names import contained
from tests.conftest import SEEDS

pytestmark = pytest.mark.model


def test_embedded_model_finds_the_putin_maduro_meeting() -> None:
    text = (SEEDS / "002_e57f6a404244da71.txt").read_text(encoding="utf-8")
    # "refresh": always ask the model (never a cached answer), but keep the answer.
    config = Config.load(cache="refresh")
    assert config.embedded
    with Summarizer(config) as summarizer:
        result = summarizer.summarize(text, id="002")

    summary = result.summary
    assert summary.summary.strip()
    assert result.run.endpoint.startswith("embedded:qwen2.5-coder-1.5b@")
    assert result.run.completion_tokens > 0 and not result.run.cache_hit
    for kind, item in summary.items():
        assert item.evidence, kind
        for ev in item.evidence:
            assert ev.grounded and text[ev.start : ev.end] == ev.quote
    names = [[p.name for p in m.participants] for m in summary.meetings]
    assert any(
        any(contained("Putin", n) for n in people) and any(contained("Maduro", n) for n in people)
        for people in names
    ), names
