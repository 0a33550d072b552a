"""Each parser on small files the project writes under tests/data/."""

from pathlib import Path

import pytest

from peergraph.ingest.formats import detect_format, iter_parsed
from peergraph.ingest.openalex import rebuild_abstract
from peergraph.ingest.records import FormatError, RecordError, WorkRecord


def parse(path: Path, fmt: str | None = None):
    return list(iter_parsed(path, fmt or detect_format(path)))


def works(items):
    return [p.item for p in items if isinstance(p.item, WorkRecord)]


def errors(items):
    return [(p.number, p.line, p.item.reason) for p in items if isinstance(p.item, RecordError)]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("sample.csl.json", "csl-json"),
        ("bad_items.csl.json", "csl-json"),
        ("openalex.jsonl", "openalex-jsonl"),
        ("bad_utf8.jsonl", "openalex-jsonl"),
        ("arxiv.jsonl", "arxiv-jsonl"),
        ("arxiv_atom.xml", "arxiv-atom"),
        ("sample.bib", "bibtex"),
    ],
)
def test_format_detection(test_data, name, fmt):
    assert detect_format(test_data / name) == fmt


def test_unknown_format_is_one_clear_error(test_data, tmp_path):
    with pytest.raises(FormatError, match="unknown format"):
        detect_format(test_data / "unknown.txt")
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(FormatError, match="empty"):
        detect_format(empty)


def test_csl(test_data):
    items = parse(test_data / "sample.csl.json")
    records = {w.record_key: w for w in works(items)}
    vaswani = records["vaswani2017"]
    assert vaswani.identifiers == {"doi": "10.5555/3295222.3295349"}
    assert vaswani.publication_date == "2017-12-04" and vaswani.year == 2017
    assert vaswani.type == "conference-paper"
    assert vaswani.source.name == "Advances in Neural Information Processing Systems"
    assert vaswani.source.short_name == "NeurIPS"
    maaten = records["maaten2008"]
    assert maaten.publication_date == "2008-11"  # a raw date string
    assert maaten.volume == "9"  # a number in the source
    assert (maaten.authorships[0].given, maaten.authorships[0].family) == (
        "Laurens",
        "van der Maaten",
    )
    plato = records["plato"]
    assert plato.authorships[0].family == "Plato" and plato.authorships[0].given is None
    assert plato.year is None  # "circa 375 BC" is not a usable year
    clip = records["radford2021"]
    assert clip.year == 2021  # date-parts as strings
    assert clip.identifiers == {"arxiv": "2103.00020"}  # from the arXiv URL
    assert errors(items) == [
        (3, 10, "missing-title"),
        (4, 11, "wrong-type"),
        (7, 16, "wrong-type"),
    ]


def test_csl_bad_items_keep_the_good_ones(test_data):
    items = parse(test_data / "bad_items.csl.json")
    assert [w.record_key for w in works(items)] == ["good1", "good2"]
    assert [e[2] for e in errors(items)] == ["invalid-utf8", "invalid-json"]
    assert [e[1] for e in errors(items)] == [2, 3]


def test_openalex_works_and_entities(test_data):
    items = parse(test_data / "openalex.jsonl")
    work = works(items)[0]
    assert work.identifiers == {"openalex": "W100", "doi": "10.1000/xyz.1", "pmid": "123456"}
    assert work.abstract == "deep learning about deep learning"  # repeated words restored
    assert work.type == "article" and work.pages == "10-20"
    first, second = work.authorships
    assert first.raw_name == "A. Lovelace" and first.orcid == "0000-0002-1825-0097"
    assert first.upstream_author_id == "A1"
    assert first.institutions[0].ror == "03yrm5c26"
    assert first.raw_affiliations == ["Dept. of Examples, University of Examples"]
    assert second.orcid is None  # the check digit is wrong: not an ORCID
    topics = {t.topic.external_id: t for t in work.topics}
    assert topics["T10320"].is_primary and topics["T10320"].topic.field == "Computer Science"
    assert topics["C154945302"].topic.taxonomy == "openalex-concept"
    assert work.references == [("openalex", "W200"), ("openalex", "W999")]
    kinds = [p.item.kind for p in items if not isinstance(p.item, RecordError)]
    assert kinds == ["work", "work", "institution", "author"]
    assert errors(items) == [
        (3, 3, "invalid-json"),
        (4, 5, "missing-title"),
        (5, 6, "wrong-type"),
        (8, 9, "unsupported-entity"),
    ]


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        ({"a": [0, 2], "b": [1]}, "a b a"),
        ({"to": [0, 2], "be": [1, 3], "or": [4]}, "to be to be or"),
        ({}, None),
        (None, None),
        ({"gap": [0, 5]}, "gap gap"),
    ],
)
def test_rebuild_abstract(index, expected):
    assert rebuild_abstract(index) == expected


def test_rebuild_abstract_rejects_absurd_positions():
    result = rebuild_abstract({"w": [10**9]})
    assert isinstance(result, RecordError) and result.reason == "absurd-size"


def test_arxiv_kaggle(test_data):
    items = parse(test_data / "arxiv.jsonl")
    first, second = works(items)
    assert first.identifiers == {"arxiv": "0704.0001", "doi": "10.1103/physrevd.76.013009"}
    assert first.authorships[0].family == "Balázs"  # LaTeX accent in authors_parsed
    assert first.title == "Calculation of prompt diphoton production"
    assert first.publication_date == "2007-04-02" and first.year == 2007
    assert [(t.topic.external_id, t.topic.name) for t in first.topics] == [
        ("hep-ph", "High Energy Physics - Phenomenology")
    ]
    assert [t.topic.name for t in second.topics] == [
        "Computer Vision and Pattern Recognition",
        "Machine Learning",
    ]
    assert second.topics[0].is_primary
    assert errors(items) == [(3, 3, "missing-id")]


def test_arxiv_atom(test_data):
    items = parse(test_data / "arxiv_atom.xml")
    (entry,) = works(items)
    assert entry.identifiers == {"arxiv": "2512.13690", "doi": "10.1234/diff.2025"}
    assert entry.title == "DiffusionBrowser: Interactive Diffusion Previews"
    assert entry.authorships[0].raw_affiliations == ["Example University"]
    assert entry.authorships[1].family == "Wang" and entry.authorships[1].given == "Jui-Hsien"
    assert [t.topic.external_id for t in entry.topics] == ["cs.CV", "cs.AI"]
    assert [e[2] for e in errors(items)] == ["missing-id"]


def test_arxiv_atom_broken_xml_is_reported(tmp_path, test_data):
    broken = tmp_path / "broken.xml"
    text = (test_data / "arxiv_atom.xml").read_text()
    broken.write_text(text.replace("</entry>\n  <entry>", "</entry>\n  <entry><bad>", 1))
    items = parse(broken, "arxiv-atom")
    assert len(works(items)) == 1
    assert items[-1].item.reason == "invalid-xml" and items[-1].item.fatal


def test_arxiv_atom_with_a_dtd_is_refused_before_parsing(tmp_path, test_data):
    """An entity bomb (and any external entity) comes in through a DTD: refused whole."""
    text = (test_data / "arxiv_atom.xml").read_text()

    def entity(i: int) -> str:
        return f"&l{i - 1};" * 10 if i else "lol"

    laughs = "".join(f'<!ENTITY l{i} "{entity(i)}">' for i in range(10))
    bomb = tmp_path / "bomb.xml"
    start = text.index("<feed")
    bomb.write_text(
        text[:start]
        + f"<!DOCTYPE feed [{laughs}]>"
        + text[start:].replace("<title>", "<title>&l9;", 1)
    )
    items = parse(bomb, "arxiv-atom")
    assert works(items) == []
    assert [(i.item.reason, i.item.fatal) for i in items] == [("dtd-refused", True)]


def test_bibtex(test_data):
    items = parse(test_data / "sample.bib")
    records = {w.record_key: w for w in works(items)}
    maaten = records["maaten2008visualizing"]
    assert maaten.title == "Visualizing Data using t-SNE"
    assert maaten.source.name == "Journal of Machine Learning Research"  # @string macro
    assert maaten.publication_date == "2008-11" and maaten.pages == "2579-2605"
    assert maaten.authorships[0].family == "van der Maaten"
    balazs = records["balazs2007"]
    assert [a.raw_name for a in balazs.authorships] == [
        "Csaba Balázs",
        "Pál Erdős",
        "Jörg Müller",
        "François Gaça",
        "Antonín Dvořák",
        "Bjørn Straße",
    ]
    assert balazs.title == "Diphoton production at the LHC & beyond"
    assert balazs.type == "conference-paper"
    clip = records["radford2021clip"]
    assert clip.identifiers == {"arxiv": "2103.00020"} and clip.type == "preprint"
    assert clip.authorships[2].family == "OpenAI Team" and clip.authorships[2].given is None
    assert records["aristotle"].authorships[0].family == "Aristotle"
    assert errors(items) == [(4, 32, "invalid-bibtex"), (5, 37, "missing-title")]


def test_inline_markup_is_stripped_from_titles(tmp_path):
    path = tmp_path / "markup.jsonl"
    path.write_text(
        '{"id": "https://openalex.org/W1", "title": "Coverage of <scp>OpenAlex</scp>:'
        ' H<sub>2</sub>O and <i>in vivo</i> 3 < 4", "authorships": []}\n'
    )
    (work,) = works(parse(path))
    assert work.title == "Coverage of OpenAlex: H2O and in vivo 3 < 4"
