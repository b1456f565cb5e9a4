"""The permission matrix walker itself, on the kit's test project: an unlisted route or model
fails naming it, a wrong cell fails naming it, and a known failure that holds fails too."""

import pytest

from platform_tools.testing.permissions import permission_matrix_tests

pytestmark = pytest.mark.django_db

NOTES = """
[api."GET api/v1/notes/"]
allow = ["anyone"]

[api."POST api/v1/notes/"]
allow = ["anyone"]
"""
WHOAMI = """
[api."GET api/v1/whoami/"]
allow = ["people", "services"]
"""


def walker(tmp_path, text: str):
    table = tmp_path / "permission_matrix.toml"
    table.write_text(text)
    return dict(
        zip(
            ("admin_listed", "api_listed", "admin_cells", "api_cells"),
            permission_matrix_tests(table),
            strict=True,
        )
    )


def test_a_complete_table_passes(tmp_path, client, mint):
    tests = walker(tmp_path, NOTES + WHOAMI)

    tests["admin_listed"]()
    tests["api_listed"]()
    tests["api_cells"](client, mint, "GET api/v1/whoami/")
    tests["admin_cells"]("service_kit.DeadLetter")


def test_a_route_missing_from_the_table_fails_naming_it(tmp_path):
    tests = walker(tmp_path, NOTES)

    with pytest.raises(AssertionError, match=r"missing \['GET api/v1/whoami/'\]"):
        tests["api_listed"]()


def test_a_model_missing_from_the_table_fails_naming_it(tmp_path):
    # Given a model newly registered with the admin (as the next engineer's would be)
    from django.contrib import admin
    from notes.models import Note

    tests = walker(tmp_path, NOTES + WHOAMI)
    admin.site.register(Note)
    try:
        # Then the table, which has no row for it, fails naming it
        with pytest.raises(AssertionError, match=r"missing \['notes.Note'\]"):
            tests["admin_listed"]()
    finally:
        admin.site.unregister(Note)


def test_a_row_for_a_model_that_is_not_there_fails_naming_it(tmp_path):
    row = '[admin."notes.Note"]\nview = []\nadd = []\nchange = []\ndelete = []\n'
    tests = walker(tmp_path, NOTES + WHOAMI + row)

    with pytest.raises(AssertionError, match=r"listed but not there \['notes.Note'\]"):
        tests["admin_listed"]()


def test_a_cell_the_code_gets_wrong_fails_naming_it(tmp_path, client, mint):
    tests = walker(tmp_path, NOTES + '[api."GET api/v1/whoami/"]\nallow = ["anyone"]\n')

    with pytest.raises(AssertionError, match="api GET api/v1/whoami/ anonymous: expected allowed"):
        tests["api_cells"](client, mint, "GET api/v1/whoami/")


def test_a_known_failure_that_holds_must_be_unmarked(tmp_path, client, mint):
    known = '[[known_failing]]\ncell = "api GET api/v1/whoami/ customer"\nfinding = "none"\n'
    tests = walker(tmp_path, NOTES + WHOAMI + known)

    with pytest.raises(AssertionError, match="customer: now holds; remove it from known_failing"):
        tests["api_cells"](client, mint, "GET api/v1/whoami/")


def test_a_known_failure_must_name_a_real_cell(tmp_path):
    known = '[[known_failing]]\ncell = "api GET api/v1/nowhere/ customer"\nfinding = "none"\n'
    tests = walker(tmp_path, NOTES + WHOAMI + known)

    with pytest.raises(AssertionError, match="does not have"):
        tests["api_listed"]()
