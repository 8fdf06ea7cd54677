"""summarizer: who met whom, who signed what and who is fighting whom, from news articles."""

import logging

from summarizer.config import Config
from summarizer.errors import (
    CacheError,
    ConfigError,
    EndpointError,
    ExtractionError,
    InputError,
    ModelError,
    SummarizerError,
)
from summarizer.pipeline import Summarizer, asummarize, summarize
from summarizer.schema import (
    Agreement,
    ArticleSummary,
    Dispute,
    Evidence,
    Meeting,
    Party,
    Result,
    RunInfo,
    Side,
)

__all__ = [
    "Agreement",
    "ArticleSummary",
    "CacheError",
    "Config",
    "ConfigError",
    "Dispute",
    "EndpointError",
    "Evidence",
    "ExtractionError",
    "InputError",
    "Meeting",
    "ModelError",
    "Party",
    "Result",
    "RunInfo",
    "Side",
    "Summarizer",
    "SummarizerError",
    "asummarize",
    "summarize",
]

logging.getLogger("summarizer").addHandler(logging.NullHandler())
