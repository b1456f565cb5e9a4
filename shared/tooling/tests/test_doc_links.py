"""The repository explains itself: every link and reference in it leads somewhere in it
(``platform_tools.testing.doclinks``, run by ``make lint``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_tools.testing import doclinks

# Names the check refuses, spelled in parts so that this file does not trip it itself.
NOTES = "ARCHITECTURE" + ".md"
CLIMB = "/".join(["..", "..", "shared", "notes"])

PAGE = "# Page\n\n## The order saga\n\n### Timers\n\n## Timers\n\n```sh\n# not a heading\n```\n"


def make_repo(root: Path, files: dict[str, str]) -> Path:
    for name, text in {"docs/page.md": PAGE, **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_repository_passes():
    assert doclinks.problems() == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"README.md": "See [the guide](docs/missing.md).\n"},
            "README.md: link 'docs/missing.md': no docs/missing.md in the repository",
            id="missing-file",
        ),
        pytest.param(
            {"README.md": "[Timers](docs/page.md#deadlines)\n"},
            "README.md: link 'docs/page.md#deadlines': no heading '#deadlines' in docs/page.md",
            id="missing-heading",
        ),
        pytest.param(
            {"docs/other.md": "[notes](../../shared/notes.md)\n"},
            "docs/other.md: link '../../shared/notes.md' leads outside the repository",
            id="link-outside",
        ),
        pytest.param(
            {"svc/README.md": "![plot](plots/saga.png)\n"},
            "svc/README.md: link 'plots/saga.png': no svc/plots/saga.png in the repository",
            id="service-readme-image",
        ),
        pytest.param(
            {"svc/README.md": "# Svc\n\n[here](#nowhere)\n"},
            "svc/README.md: link '#nowhere': no heading '#nowhere' in svc/README.md",
            id="same-page-anchor",
        ),
        pytest.param(
            {"svc/views.py": f'"""The orders API ({NOTES}, "orders")."""\n'},
            f"svc/views.py:1: '{NOTES}' is not in the repository: point to its page under docs/"
            " or say it here",
            id="notes-named-in-code",
        ),
        pytest.param(
            {"charts/values.yaml": f"# see\nrules: {CLIMB}/alerts.yml\n"},
            f"charts/values.yaml:2: '{CLIMB}/alerts.yml' points outside the repository",
            id="path-outside",
        ),
        pytest.param(
            {"svc/services.py": '"""The saga (' + "docs/" + 'saga.md)."""\n'},
            "svc/services.py:1: docs/saga.md does not exist",
            id="missing-page-named-in-code",
        ),
        pytest.param(
            {"svc/checks.py": 'hint = "' + "docs/" + 'page.md#deadline"\n'},
            "svc/checks.py:1: no heading '#deadline' in docs/page.md",
            id="missing-heading-named-in-code",
        ),
    ],
)
def test_a_broken_reference_fails(tmp_path, files, expected):
    assert doclinks.problems(make_repo(tmp_path, files)) == [expected]


def test_references_that_lead_somewhere_pass(tmp_path):
    root = make_repo(
        tmp_path,
        {
            "README.md": (
                "# Title\n[docs](docs/page.md), [saga](docs/page.md#the-order-saga), "
                "[timers](docs/page.md#timers-1), [folder](docs/), [web](https://example.com), "
                "[mail](mailto:a@example.com), [top](#title), ![plot](docs/plot.png)\n\n"
                "```md\n[in a code block](nowhere.md)\n```\n`[in code](nowhere.md)`\n"
                "[ref]: docs/page.md\n"
            ),
            "docs/plot.png": "png",
            "docs/other.md": "[back](../README.md) [page](page.md#timers)\n",
            "compose/compose.yml": "volumes: ['../docs/page.md:/page.md:ro']\n",
            "svc/services.py": '"""The saga (' + "docs/" + 'page.md#the-order-saga)."""\n'
            'TRAVERSAL = "/api/v1/x/../../admin/"\n',
            # Test data may name a missing page on purpose.
            "svc/tests/test_x.py": 'URL = "' + "docs/" + 'Missing.md"\n',
        },
    )
    assert doclinks.problems(root) == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("The order saga", "the-order-saga"),
        ("The service kit (`shared/service_kit`)", "the-service-kit-sharedservice_kit"),
        ("Commerce platform — Django microservices", "commerce-platform--django-microservices"),
        ("Commands vs events", "commands-vs-events"),
        ("0001. Outbox [and](x.md) inbox", "0001-outbox-and-inbox"),
    ],
)
def test_anchors_are_githubs(heading, anchor):
    assert doclinks.slug(heading) == anchor


def test_the_lint_run_reports_each_problem(tmp_path, capsys):
    root = make_repo(tmp_path, {"README.md": "[gone](gone.md)\n"})

    assert doclinks.report(root) == ["README.md: link 'gone.md': no gone.md in the repository"]
    assert "FAIL docs: README.md: link 'gone.md'" in capsys.readouterr().out
