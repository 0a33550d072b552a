import pytest

from peergraph.ingest.latex import latex_to_unicode
from peergraph.ingest.names import parse_name
from peergraph.ingest.normalize import (
    dedupe_key,
    domain_from_url,
    iso_date,
    normalize_arxiv,
    normalize_doi,
    normalize_openalex_id,
    normalize_orcid,
    normalize_ror,
    parse_year,
    title_key,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://doi.org/10.1038/227680A0", "10.1038/227680a0"),
        ("doi:10.1000/xyz", "10.1000/xyz"),
        ("http://dx.doi.org/10.1145/3292500.3330701", "10.1145/3292500.3330701"),
        ("not a doi", None),
        (None, None),
        (12, None),
    ],
)
def test_normalize_doi(raw, expected):
    assert normalize_doi(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2103.00020v3", "2103.00020"),
        ("arXiv:1706.03762", "1706.03762"),
        ("https://arxiv.org/abs/2512.13690v1", "2512.13690"),
        ("http://arxiv.org/pdf/2103.00020v1", "2103.00020"),
        ("hep-th/9901001v2", "hep-th/9901001"),
        ("math.CO/0701001", "math.CO/0701001"),
        ("https://proceedings.mlr.press/v89/x.html", None),
    ],
)
def test_normalize_arxiv(raw, expected):
    assert normalize_arxiv(raw) == expected


def test_orcid_checksum_is_enforced():
    assert normalize_orcid("https://orcid.org/0000-0002-1825-0097") == "0000-0002-1825-0097"
    assert normalize_orcid("0000000218250097") == "0000-0002-1825-0097"
    assert normalize_orcid("0000-0002-1694-233X") == "0000-0002-1694-233X"
    assert normalize_orcid("0000-0002-1825-0098") is None  # wrong check digit


def test_openalex_and_ror_ids():
    assert normalize_openalex_id("https://openalex.org/W2741809807") == "W2741809807"
    assert normalize_openalex_id("https://openalex.org/A5023888391", "W") is None
    assert normalize_openalex_id("w123") == "W123"
    assert normalize_ror("https://ror.org/00tw3jy02") == "00tw3jy02"
    assert normalize_ror("https://ror.org/notaror") is None


def test_title_key_ignores_case_accents_and_punctuation():
    assert title_key("Attention Is All You Need!") == title_key("attention is all you need")
    assert title_key("Détection — rapide") == "detection rapide"
    assert dedupe_key("A Title.", 2020, "Müller") == dedupe_key("a title", 2020, "Muller")
    assert dedupe_key("A Title", 2020, "Müller") != dedupe_key("A Title", 2021, "Müller")


def test_years_and_dates():
    assert parse_year("2021-07-01") == 2021
    assert parse_year(2021) == 2021
    assert parse_year("circa 375 BC") is None
    assert parse_year(99999) is None
    assert parse_year(True) is None
    assert iso_date(2021, 7, 1) == "2021-07-01"
    assert iso_date(2021, 13, 1) == "2021"
    assert iso_date("2021", "7") == "2021-07"


def test_domain_from_url():
    assert domain_from_url("https://www.examples.ac.uk/about") == "examples.ac.uk"
    assert domain_from_url(None) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Alec Radford", ("Alec", "Radford")),
        ("Neal, Radford M.", ("Radford M.", "Neal")),
        ("Radford M. Neal", ("Radford M.", "Neal")),
        ("Laurens van der Maaten", ("Laurens", "van der Maaten")),
        ("Ludwig van Beethoven", ("Ludwig", "van Beethoven")),
        ("Aristotle", (None, "Aristotle")),
        ("Martin Luther King Jr.", ("Martin Luther", "King")),
        ("Smith, Jr., John", ("John", "Smith")),
        ("Jean-Pierre Dupont-Aignan", ("Jean-Pierre", "Dupont-Aignan")),
        ("  ", (None, None)),
    ],
)
def test_parse_name(raw, expected):
    assert parse_name(raw) == expected


@pytest.mark.parametrize(
    ("latex", "expected"),
    [
        (r"Bal\'azs", "Balázs"),
        (r"Bal\'{a}zs", "Balázs"),
        (r"{\"O}zt{\"u}rk", "Öztürk"),
        (r"Erd\H{o}s", "Erdős"),
        (r"Fran\c{c}ois", "François"),
        (r"Fran\c cois", "François"),
        (r"Dvo\v{r}\'ak", "Dvořák"),
        (r"Anton{\'\i}n", "Antonín"),
        (r"Stra\ss e", "Straße"),
        (r"Bj\o rn", "Bjørn"),
        (r"\L{}ukasz", "Łukasz"),
        (r"Learning {BERT} \& friends", "Learning BERT & friends"),
        (r"pages 1--10", "pages 1–10"),
        (r"\textit{in vivo} results", "in vivo results"),
        (r"$O(n^2)$ time", "$O(n^2)$ time"),
    ],
)
def test_latex_to_unicode(latex, expected):
    assert latex_to_unicode(latex) == expected
