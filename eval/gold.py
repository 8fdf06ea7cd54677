"""Gold files: the hand-labelled answer for each seed article (spec: "Gold files").

Gold has the shape of `ArticleSummary` plus per-item `optional` flags and per-article
`aliases`, so the models below extend the schema instead of restating it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError

from summarizer.schema import Agreement, ArticleSummary, Dispute, Meeting

from . import EvalError, validation_problems


class GoldMeeting(Meeting):
    optional: bool = False


class GoldAgreement(Agreement):
    optional: bool = False


class GoldDispute(Dispute):
    optional: bool = False


GoldItem = GoldMeeting | GoldAgreement | GoldDispute


class GoldArticle(ArticleSummary):
    """An `ArticleSummary` whose items may be optional and whose parties may have aliases."""

    aliases: dict[str, list[str]] = Field(default_factory=dict)
    # Narrowing the item types is the point of the subclass: gold items carry `optional`.
    meetings: list[GoldMeeting] = Field(default_factory=list)  # type: ignore[assignment]
    agreements: list[GoldAgreement] = Field(default_factory=list)  # type: ignore[assignment]
    disputes: list[GoldDispute] = Field(default_factory=list)  # type: ignore[assignment]

    def as_summary(self) -> ArticleSummary:
        """The gold as a flawless prediction (all evidence grounded): it must score 1.0."""
        flags = {"__all__": {"optional"}}
        summary = ArticleSummary.model_validate(
            self.model_dump(
                exclude={"aliases": True, "meetings": flags, "agreements": flags, "disputes": flags}
            )
        )
        for _, item in summary.items():
            for evidence in item.evidence:
                evidence.grounded = True
        return summary


def load_gold(directory: Path) -> dict[str, GoldArticle]:
    """Read every `<id>.json` in `directory`; raise `EvalError` naming the first bad file."""
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise EvalError(f"no gold files (*.json) in {directory}")
    gold: dict[str, GoldArticle] = {}
    for path in paths:
        try:
            article = GoldArticle.model_validate_json(path.read_bytes())
        except OSError as exc:
            raise EvalError(f"gold file {path} is unreadable: {exc}") from None
        except ValidationError as exc:
            raise EvalError(f"gold file {path} is invalid: {validation_problems(exc)}") from None
        if article.id != path.stem:
            # The id is how predictions find their gold; a mismatch would score nothing.
            raise EvalError(f"gold file {path} has id {article.id!r}, expected {path.stem!r}")
        gold[article.id] = article
    return gold
