"""Shared fixtures: a scripted OpenAI-protocol server on 127.0.0.1 and configs pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from summarizer.config import CONFIG_ENV, ENV_VARS, Config
from tests.stub_server import Reply, StubServer

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

# A short article with the names and sentence layout `article_reply` refers to.
ARTICLE = (
    "Leaders meet in Caracas\n\n"
    "Venezuelan President Nicolás Maduro met Russian Deputy Prime Minister Dmitry "
    "Chernyshenko in Caracas on Thursday. "
    "The two governments signed 17 agreements on energy and security.\n"
    "The United States criticised the deals."
)


def article_reply(**changes: Any) -> dict[str, Any]:
    """A valid model answer for ARTICLE; keyword arguments replace top-level keys."""
    reply: dict[str, Any] = {
        "title": 1,
        "lang": "en",
        "dateline": None,
        "summary": "Nicolás Maduro met Dmitry Chernyshenko in Caracas; 17 agreements were signed.",
        "actors": [
            {"name": "Nicolás Maduro", "kind": "person", "role": "President", "of": "Venezuela"},
            {
                "name": "Dmitry Chernyshenko",
                "kind": "person",
                "role": "Deputy Prime Minister",
                "of": "Russia",
            },
            {"name": "Venezuela", "kind": "country", "role": None, "of": None},
            {"name": "Russia", "kind": "country", "role": None, "of": None},
            {"name": "United States", "kind": "country", "role": None, "of": None},
        ],
        "meetings": [
            {
                "who": ["Maduro", "Dmitry Chernyshenko"],
                "when": "Thursday",
                "where": "Caracas",
                "status": "held",
                "topics": ["energy"],
                "outcome": None,
                "ev": [2],
            }
        ],
        "agreements": [
            {
                "name": "17 agreements",
                "parties": ["Venezuela", "Russia"],
                "when": "Thursday",
                "status": "signed",
                "areas": ["energy", "security"],
                "count": 17,
                "about": None,
                "ev": [3],
            }
        ],
        "disputes": [
            {
                "issue": "The United States criticised the deals.",
                "kind": "diplomatic",
                "sides": [
                    {"who": ["United States"], "position": "criticises the deals"},
                    {"who": ["Venezuela", "Russia"], "position": None},
                ],
                "status": "ongoing",
                "ev": [4],
            }
        ],
    }
    reply.update(changes)
    return reply


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from each test only, never from the machine's environment."""
    for var in (*ENV_VARS.values(), CONFIG_ENV):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture
def stub_config(stub: StubServer, tmp_path: Path) -> Config:
    """Settings for the stub: fast transport retries, a fresh cache folder."""
    return Config(
        base_url=stub.base_url,
        model="stub-model",
        api_key="sk-test-secret-key-123",
        mode="json_schema",
        strategy="article",  # one scripted reply per article; the sentence plan has its own tests
        cache_dir=tmp_path / "cache",
        max_attempts=4,
        max_retry_time=20,
        timeout=5,
    )


__all__ = ["ARTICLE", "SEEDS", "Reply", "article_reply"]
