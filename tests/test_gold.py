"""The gold files are the yardstick: they must validate and quote their articles verbatim."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from summarizer.eval import EvalError
from summarizer.eval.gold import GoldArticle, load_gold

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "gold"
SEEDS = ROOT / "seeds"
GOLD_FILES = sorted(GOLD.glob("*.json"))


def _normal(text: str) -> str:
    # The spec forgives whitespace and quote-mark differences when grounding quotes.
    return " ".join(re.sub("[\u2018\u2019\u201c\u201d\"']", "'", text).split())


def test_there_is_one_gold_file_per_seed() -> None:
    assert len(GOLD_FILES) == 5
    assert [p.stem for p in GOLD_FILES] == sorted(p.stem for p in SEEDS.glob("*.txt"))


@pytest.mark.parametrize("path", GOLD_FILES, ids=lambda p: p.stem)
def test_gold_file_validates(path: Path) -> None:
    article = GoldArticle.model_validate_json(path.read_bytes())
    assert article.id == path.stem
    items = [*article.meetings, *article.agreements, *article.disputes]
    assert any(not item.optional for item in items), "a gold file with nothing required"


@pytest.mark.parametrize("path", GOLD_FILES, ids=lambda p: p.stem)
def test_gold_evidence_is_quoted_from_the_article(path: Path) -> None:
    article = GoldArticle.model_validate_json(path.read_bytes())
    text = _normal((SEEDS / f"{path.stem}.txt").read_text(encoding="utf-8"))
    quotes = [e.quote for _, item in article.items() for e in item.evidence]
    assert [q for q in quotes if _normal(q) not in text] == []


def test_load_gold_reads_every_file_with_optional_flags_and_aliases() -> None:
    gold = load_gold(GOLD)
    assert sorted(gold) == [p.stem for p in GOLD_FILES]
    maduro_trip = gold["000_629038d28f75d859"]
    assert [m.optional for m in maduro_trip.meetings].count(True) == 3
    assert maduro_trip.aliases["Xi Jinping"] == ["Xi"]


def _write(directory: Path, name: str, data: dict[str, object]) -> Path:
    path = directory / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_invalid_gold_names_the_file_and_the_field(tmp_path: Path) -> None:
    data = json.loads(GOLD_FILES[0].read_text(encoding="utf-8"))
    data["meetings"][0]["status"] = "happened"
    path = _write(tmp_path, GOLD_FILES[0].name, data)
    with pytest.raises(EvalError, match=re.escape(str(path))) as caught:
        load_gold(tmp_path)
    assert "meetings.0.status" in str(caught.value)


def test_gold_id_must_match_its_file_name(tmp_path: Path) -> None:
    data = json.loads(GOLD_FILES[0].read_text(encoding="utf-8"))
    _write(tmp_path, "other.json", data)
    with pytest.raises(EvalError, match="expected 'other'"):
        load_gold(tmp_path)


def test_a_directory_without_gold_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="no gold files"):
        load_gold(tmp_path)


def test_as_summary_drops_gold_only_fields_and_grounds_evidence() -> None:
    article = load_gold(GOLD)["004_10b87bfb11a9e0ca"]
    summary = article.as_summary()
    assert "aliases" not in summary.model_dump()
    assert len(summary.items()) == len(article.items())
    assert all(e.grounded for _, item in summary.items() for e in item.evidence)
