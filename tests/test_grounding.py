from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from summarizer.grounding import ground, locate
from summarizer.schema import Evidence

ARTICLE = (
    "Venezuela and its most powerful ally Russia signed agreements Thursday on\n"
    "intelligence-gathering and counter-espionage, as well as energy cooperation.\n\n"
    "Russian Deputy Prime Minister Dmitry Chernyshenko said his country stood ready to support"
    " Venezuela\u2019s armed forces with \u201cthe most sophisticated weapons and military"
    " equipment,\u201d according to state TV."
)

ACCENTED = (
    "Guacamaya,\u00a0May\u00a09, 2025. Nicolás Maduro met Miguel Díaz-Canel and the Ñandú"
    " delegation in Moscow.\u202fThe\u2009Patriarch Kirill spoke of Bolívar and Müller\u2019s"
    " «\u00a0amistad\u00a0» before the parade."
)


def passage(text: str, quote: str) -> str | None:
    span = locate(text, quote)
    return None if span is None else text[span[0] : span[1]]


def test_exact_match_returns_the_span() -> None:
    quote = "signed agreements Thursday"
    start = ARTICLE.index(quote)
    assert locate(ARTICLE, quote) == (start, start + len(quote))


def test_whitespace_and_newlines_are_forgiven() -> None:
    quote = "agreements   Thursday on intelligence-gathering"
    assert passage(ARTICLE, quote) == "agreements Thursday on\nintelligence-gathering"


def test_non_breaking_spaces_in_the_article() -> None:
    assert passage(ACCENTED, "Guacamaya, May 9, 2025.") == "Guacamaya,\u00a0May\u00a09, 2025."


def test_straight_quotes_match_curly_ones() -> None:
    quote = "Venezuela's armed forces with \"the most sophisticated weapons"
    found = passage(ARTICLE, quote)
    assert found == "Venezuela\u2019s armed forces with \u201cthe most sophisticated weapons"


def test_dashes_and_case_are_forgiven() -> None:
    text = "The talks \u2014 held in Caracas \u2013 ended early."
    assert passage(text, "THE TALKS - held in caracas - ended") == (
        "The talks \u2014 held in Caracas \u2013 ended"
    )


@pytest.mark.parametrize(
    "quote",
    [
        "Nicolás Maduro met Miguel Díaz-Canel and the Ñandú delegation",
        "Moscow. The Patriarch Kirill spoke of Bolívar",
        "Müller's « amistad » before",
    ],
)
def test_accented_article_spans_slice_the_original(quote: str) -> None:
    span = locate(ACCENTED, quote)
    assert span is not None
    found = ACCENTED[span[0] : span[1]]
    assert " ".join(found.split()) == " ".join(quote.replace("'", "\u2019").split())
    assert found[0] == quote[0] and found[-1] == quote[-1]


def test_paraphrase_is_not_grounded() -> None:
    assert locate(ARTICLE, "Russia and Venezuela agreed to share intelligence and energy") is None


def test_misspelled_long_quote_is_grounded_fuzzily() -> None:
    quote = "Russian Deputy Prime Minister Dmitri Chernishenko said his country stod ready"
    expected = "Russian Deputy Prime Minister Dmitry Chernyshenko said his country stood ready"
    assert passage(ARTICLE, quote) == expected


def test_short_quotes_are_not_matched_fuzzily() -> None:
    assert locate(ARTICLE, "Chernishenko") is None


def test_min_score_is_respected() -> None:
    quote = "Russian Deputy Prime Minister Dmitri Chernishenko said his country stod ready"
    assert locate(ARTICLE, quote, min_score=99.0) is None


@pytest.mark.parametrize(("text", "quote"), [("", "anything"), (ARTICLE, ""), ("", ""), ("a", " ")])
def test_empty_inputs_are_not_found(text: str, quote: str) -> None:
    assert locate(text, quote) is None


def test_quote_longer_than_text() -> None:
    assert locate("Putin met Maduro.", "Putin met Maduro in Moscow on Wednesday afternoon.") is None


def test_ground_sets_spans_and_keeps_the_articles_wording() -> None:
    evidence = [
        Evidence(quote="Venezuela's armed forces"),
        Evidence(quote="Maduro flew to Beijing", start=3, end=9, grounded=True),
    ]
    found, missing = ground(ARTICLE, evidence)
    assert found.grounded
    assert found.quote == "Venezuela\u2019s armed forces"
    assert found.start is not None and found.end is not None
    assert ARTICLE[found.start : found.end] == found.quote
    assert missing == Evidence(quote="Maduro flew to Beijing")
    assert evidence[0].quote == "Venezuela's armed forces"


@given(st.text(), st.data())
def test_a_substring_is_found_verbatim(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    quote = text[start:end]
    span = locate(text, quote)
    if quote.strip():
        assert span is not None
        assert text[span[0] : span[1]] == quote.strip()
    else:
        assert span is None


WORDS = st.lists(st.text(st.characters(categories=["L", "N"]), min_size=1), min_size=1)
SPACES = st.sampled_from([" ", "\n", "\u00a0", "\u202f", "\u2009", "\t", "  \n\u00a0"])


@given(WORDS, st.data())
def test_whitespace_variants_map_back_to_the_passage(words: list[str], data: st.DataObject) -> None:
    gaps = data.draw(st.lists(SPACES, min_size=len(words), max_size=len(words)))
    body = "".join(word + gap for word, gap in zip(words, gaps, strict=True))
    text = "Before the quote, " + body + "and after it."
    quote = " ".join(words)
    span = locate(text, quote)
    assert span is not None
    assert text[span[0] : span[1]].split() == quote.split()


@given(st.text(), st.text())
def test_locate_never_raises(text: str, quote: str) -> None:
    span = locate(text, quote)
    if span is not None:
        start, end = span
        assert 0 <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()


@pytest.mark.parametrize("quote", ["8", "20", "May 9, 2025", "  25 ", "[9]", "Putin"])
def test_a_bare_number_date_or_name_is_never_grounded(quote: str) -> None:
    text = "The 80th anniversary parade on May 9, 2025 drew 20 leaders, Putin among them. [9]"
    [evidence] = ground(text, [Evidence(quote=quote)])
    assert not evidence.grounded and evidence.start is None


def test_a_clause_in_any_script_is_grounded() -> None:
    text = "王毅,當地時間周一(21日)在巴黎愛麗舍宮與法國總統馬克龍會晤。"
    [evidence] = ground(text, [Evidence(quote="在巴黎愛麗舍宮與法國總統馬克龍會晤")])
    assert evidence.grounded
