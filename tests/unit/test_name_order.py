"""Which word of a name printed as one string is the family name (authors/order.py)."""

from __future__ import annotations

import pytest

from peergraph.authors import order
from peergraph.authors.services import name_keys
from peergraph.ingest.names import order_guessed, parse_name


@pytest.mark.parametrize(
    "word, ok",
    [
        ("zhang", True),
        ("zhihui", True),  # zhi + hui
        ("xiaoming", True),
        ("lv", True),  # ü written v
        ("radford", False),
        ("smith", False),
        ("kim", False),  # Korean romanisation, not pinyin
        ("zhangzhangzhangzhang", False),  # more than three syllables
        ("", False),
    ],
)
def test_pinyin_like(word, ok):
    assert order.pinyin_like(word) is ok


def test_one_word_joins_hyphens_and_refuses_initials_and_phrases():
    assert order.one_word("Zhi-Hui") == "zhihui"
    assert order.one_word("Zhihui") == "zhihui"
    assert order.one_word("Z.-H.") is None
    assert order.one_word("Zhi Hui") is None
    assert order.one_word("振辉") is None


def test_only_a_name_printed_as_one_string_has_a_guessed_order():
    assert order_guessed("Zhang Wei")
    assert not order_guessed("Zhang, Wei")  # the comma states it
    assert not order_guessed("Aristotle")


TABLE = order.NameOrder.from_dict(
    {
        "format": order.FORMAT,
        "margin": 2.0,
        "scores": {"zhang": 6.0, "wei": -1.0, "liu": 4.0, "yang": 1.0, "zhihui": -4.0},
    }
)


@pytest.mark.parametrize(
    "printed, reading",
    [
        ("Zhang Wei", ("Wei", "Zhang")),  # 6 − (−1) = 7 > 2: reversed
        ("Wei Zhang", ("Wei", "Zhang")),  # as printed
        ("Zhang Zhi-Hui", ("Zhi-Hui", "Zhang")),
        ("Liu Yang", ("Yang", "Liu")),  # 4 − 1 = 3 > 2: reversed
        ("Yang Liu", ("Yang", "Liu")),
        ("Zhang W.", ("W.", "Zhang")),  # a family name is never an initial
        ("Smith J. K.", ("J. K.", "Smith")),
        ("Radford Neal", ("Radford", "Neal")),  # not pinyin: the source's order
        ("Alec Radford", ("Alec", "Radford")),
        ("Laurens van der Maaten", ("Laurens", "van der Maaten")),
    ],
)
def test_reading_of_a_guessed_name(printed, reading):
    given, family = parse_name(printed)
    assert TABLE.reading(given, family) == reading


def test_margin_decides_a_close_call():
    strict = order.NameOrder.from_dict({**TABLE.as_dict(), "margin": 3.5})
    assert strict.reading("Liu", "Yang") == ("Liu", "Yang")  # 3 < 3.5: as printed
    assert strict.reading("Zhang", "Wei") == ("Wei", "Zhang")


def test_both_orders_of_a_chinese_name_share_a_block_and_structured_names_keep_theirs():
    western = name_keys("Wei Zhang", "Wei", "Zhang", guessed=True)
    eastern = name_keys("Zhang Wei", "Zhang", "Wei", guessed=True)
    assert western[2] == eastern[2] == "zhang_w"
    assert western[0] == eastern[0] == ("wei",)
    # a structured source said "Zhang" is the given name: that is kept
    assert name_keys("Zhang Wei", "Zhang", "Wei")[2] == "wei_z"
    # a stored name with no parts is parsed here, and its order is guessed
    assert name_keys("Zhang Wei", None, None)[2] == "zhang_w"


def test_train_counts_structured_names_and_sets_the_margin_from_guessed_ones():
    names = (
        [("Wei", "Zhang", False)] * 20
        + [("Jun", "Wang", False)] * 10
        + [("Zhi Hui", "Liu", False)] * 5  # joined: "zhihui"
        + [("Radford", "Neal", False)] * 50  # not pinyin: not counted
        + [("Wei", "Zhang", True)] * 9  # printed given name first
        + [("Zhang", "Wei", True)] * 1  # printed family name first
    )
    table = order.train(names)
    assert table.scores["zhang"] > 2 > -2 > table.scores["wei"]
    assert table.scores["zhihui"] < 0
    assert "neal" not in table.scores and "radford" not in table.scores
    assert table.meta["clear_given_first"] == 9 and table.meta["clear_family_first"] == 1
    assert table.margin == pytest.approx(1.609, abs=1e-3)  # ln(10 / 2)
    assert table.reading("Zhang", "Wei") == ("Wei", "Zhang")


def test_the_shipped_table_reverses_only_on_strong_evidence():
    shipped = order.packaged()
    assert shipped.margin > 0
    assert shipped.reading("Zhang", "Wei") == ("Wei", "Zhang")
    assert shipped.reading("Wei", "Zhang") == ("Wei", "Zhang")
    assert shipped.reading("Yang", "Liu") == ("Yang", "Liu")
