"""Names on pages: always "given family", whatever order the source printed."""

import pytest

from peergraph.works.services import person_name


@pytest.mark.parametrize(
    ("raw", "given", "family", "shown"),
    [
        ("Oord, Aaron van den", None, None, "Aaron van den Oord"),
        ("Oord, Aaron van den", "Aaron", "van den Oord", "Aaron van den Oord"),
        ("Alec Radford", "Alec", "Radford", "Alec Radford"),
        ("Radford, Alec", "Alec", "Radford", "Alec Radford"),
        ("OpenAI", None, None, "OpenAI"),  # an organisation stays as printed
        ("Smith, Jr., John", None, None, "Smith, Jr., John"),  # ambiguous: as printed
        ("Wang, ", None, None, "Wang,"),
        ("  Ada Lovelace ", None, None, "Ada Lovelace"),
    ],
)
def test_people_are_shown_given_name_first(raw, given, family, shown):
    assert person_name(raw, given, family) == shown
