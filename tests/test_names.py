"""Name folding and the small name heuristics resolution relies on."""

from __future__ import annotations

from summarizer.names import acronyms, contained, fold, initials, stems
from summarizer.resolve import _split_title


def test_fold_drops_accents_case_and_punctuation() -> None:
    assert fold("Nicolás  MADURO\u2019s") == "nicolas maduro s"
    assert contained("Maduro", "President Nicolás Maduro")
    assert not contained("Ramzan Kadyrov", "Akhmat Kadyrov")


def test_stems_meet_demonyms() -> None:
    assert stems("Russian officials") & stems("Russia")
    assert not stems("Chinese") & stems("Chile")


def test_acronyms_however_punctuated() -> None:
    assert {"us", "un", "usa"} <= acronyms("The U.S. and the UN; USA")
    assert initials("United States") == "us"
    assert initials("Putin") == ""


def test_titles_written_into_names_are_split_off() -> None:
    assert _split_title("Venezuelan President Nicolás Maduro") == (
        "Nicolás Maduro",
        "Venezuelan President",
    )
    assert _split_title("the Chinese ambassador") == ("the Chinese ambassador", None)
    assert _split_title("Vladimir Putin") == ("Vladimir Putin", None)
