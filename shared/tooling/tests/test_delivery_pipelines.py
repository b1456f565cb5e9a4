"""The pipelines' validator: the repository's Jenkinsfile and GitHub workflow pass, and each kind
of breakage in a copy of them is reported."""

from __future__ import annotations

import shutil

import pytest
from copies import edit

from platform_tools.testing.delivery import pipelines
from platform_tools.testing.delivery.pipelines import MakeCall, make_targets, parse_make
from service_kit.conf import REPO_ROOT

WORKFLOW = ".github/workflows/ci.yml"


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A copy of what the validator reads, and the problems found there (none when sound)."""
    root = tmp_path_factory.mktemp("pipelines") / "repo"
    root.mkdir()
    shutil.copy(REPO_ROOT / "Makefile", root / "Makefile")
    shutil.copy(REPO_ROOT / "Jenkinsfile", root / "Jenkinsfile")
    shutil.copytree(REPO_ROOT / ".github", root / ".github")
    return root, pipelines.check(root)


@pytest.fixture
def tree(baseline, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(baseline[0], root)
    return root


def assert_reported(root, baseline, expected: str) -> None:
    """The copy's problems name ``expected``, which the untouched copy's did not."""
    assert not [p for p in baseline[1] if expected in p]
    problems = pipelines.check(root)
    assert [p for p in problems if expected in p], problems


def test_the_repository_passes():
    assert pipelines.check(REPO_ROOT) == []


# -- the pieces ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "parsed"),
    [
        ("make lint", MakeCall("lint", {})),
        (
            "make test SUITES=gateway JUNIT_DIR=reports/junit",
            MakeCall("test", {"SUITES": "gateway", "JUNIT_DIR": "reports/junit"}),
        ),
        ("make deploy ENV=staging TAG=$TAG", MakeCall("deploy", {"ENV": "staging", "TAG": "$TAG"})),
    ],
)
def test_make_commands_parse(command, parsed):
    assert parse_make(command) == parsed


@pytest.mark.parametrize(
    ("command", "why"),
    [
        (None, "is not a literal string"),
        ("docker build .", "is not `make <target>"),
        ("make", "is not `make <target>"),
        ("make -C gateway test", "is not `make <target>"),
        ("make ENV=staging", "is not `make <target>"),
        ("make lint && rm -rf /", "only VAR=value may follow"),
        ("make lint --keep-going", "only VAR=value may follow"),
        ("make lint 'unclosed", "does not parse as a shell command"),
    ],
)
def test_other_commands_are_refused(command, why):
    assert why in parse_make(command)


def test_make_targets_are_the_makefiles_rules(tmp_path):
    makefile = tmp_path / "Makefile"
    makefile.write_text(
        "PY := python\nTAG ?= x\n.PHONY: a b\n$(VENV)/.base: x\n\ttouch $@\n"
        "install: $(VENV)/.base\nlint test: install\n\techo a:b\nimages:\n"
    )
    assert make_targets(makefile) == {"install", "lint", "test", "images"}


# -- a broken Jenkinsfile --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # syntax
        ("    post {\n        failure", "    post {\n        failure {", "does not parse"),
        ("stage('Lint') {", "stage('Lint') ", "does not parse"),
        # shell steps: make targets that exist, nothing else
        ("sh 'make lint'", "sh 'make lint-everything'", "`make lint-everything`: no such target"),
        ("sh 'make lint'", "sh 'ruff check .'", "sh step 'ruff check .' is not `make <target>"),
        ("sh 'make lint'", "sh(script: lintCommand)", "sh step is not a literal string"),
        (
            "sh 'make lint'",
            "sh script: 'make lint-all', label: 'lint'",
            "`make lint-all`: no such target",
        ),
        # the stages
        ("sh 'make lint'", "echo 'no lint'", "no `make lint` step"),
        (
            "when { expression { affected('payment_service') } }\n"
            "                            steps { sh 'make test SUITES=payment_service "
            "JUNIT_DIR=reports/junit' }",
            "when { expression { affected('payment_service') } }\n"
            "                            steps { echo 'skipped' }",
            "no unit-test stage for suite(s): payment_service",
        ),
        (
            "post { always { junit 'reports/junit/gateway.xml' } }",
            "",
            "its stage has no `post { always { junit 'reports/junit/...' } }`",
        ),
        ("SUITES=order_service JUNIT_DIR=reports/junit", "SUITES=order_service", "JUNIT_DIR"),
        ("ENV=production REGISTRY", "ENV=prod REGISTRY", "no `make deploy ENV=production` step"),
        # releases: main only, with credentials; the team told
        (
            "            when {\n                branch 'main'\n"
            "                expression { env.AFFECTED }\n                beforeInput true\n"
            "            }\n",
            "",
            "the approval is asked on every branch",
        ),
        (
            "            when {\n                branch 'main'\n"
            "                expression { env.AFFECTED }\n            }\n"
            "            agent { label 'platform' }",
            "            agent { label 'platform' }",
            "`make deploy` runs on every branch",
        ),
        (
            "credentialsId: 'platform-kubeconfig-staging', variable: 'KUBECONFIG'",
            "credentialsId: 'platform-kubeconfig-staging', variable: 'KUBE'",
            "`make deploy` runs without a KUBECONFIG credential",
        ),
        ("timestamps()", "", "pipeline options lack timestamps()"),
        ("archiveArtifacts artifacts: 'reports/**'", "echo 'reports/**'", "archiveArtifacts"),
        (
            "script { notify('failed') }",
            "echo 'failed'",
            "post { failure { } } notifies no one",
        ),
        (
            "        httpRequest(",
            "        echo(",
            "post { success { } } notifies no one",
        ),
        # the release tag is pushed with the git credential
        (
            "withCredentials([gitUsernamePassword(credentialsId: 'platform-git')]) {\n"
            "                            sh 'make release-tag'\n                        }",
            "sh 'make release-tag'",
            "`make release-tag` pushes without the 'platform-git' credential",
        ),
        (
            "credentialsId: 'platform-git'",
            "credentialsId: 'platform-registry'",
            "`make release-tag` pushes without the 'platform-git' credential",
        ),
    ],
)
def test_a_broken_jenkinsfile_is_reported(tree, baseline, old, new, expected):
    edit(tree / "Jenkinsfile", old, new)
    assert_reported(tree, baseline, expected)


def test_a_jenkinsfile_that_is_not_declarative_is_reported(tree, baseline):
    (tree / "Jenkinsfile").write_text("node {\n    sh 'make lint'\n}\n")
    assert_reported(tree, baseline, "one declarative `pipeline { }` block expected")


def test_without_groovy_the_check_fails(tree, baseline, monkeypatch):
    monkeypatch.setattr(pipelines.shutil, "which", lambda name, *a, **k: None)
    assert_reported(tree, baseline, "groovy is not installed")


# -- a broken workflow -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "  lint:\n    runs-on:",
            "  lint:\n    colour: blue\n    runs-on:",
            "'colour' was unexpected",
        ),
        ("jobs:\n", "jobs: [\n", "does not parse as YAML"),
        ("      - run: make lint", "      - run: make lint-all", "`make lint-all`: no such target"),
        (
            "      - run: make lint",
            "      - run: pip install ruff && ruff check .",
            "is not `make <target>",
        ),
        (
            "      redis:\n        image: redis:7\n        options: >-\n"
            '          --health-cmd "redis-cli ping" --health-interval 5s --health-timeout 5s'
            " --health-retries 20\n",
            "",
            "runs tests without a redis service",
        ),
        # the test matrix: the affected suites, from `make affected`
        (
            "suite: ${{ fromJSON(needs.affected.outputs.suites) }}",
            "suite: [kit, tooling, gateway]",
            "the suite matrix misses system",
        ),
        (
            "suite: ${{ fromJSON(needs.affected.outputs.suites) }}",
            "suite: [kit, tooling, system, gateway, auth_service, user_service, product_service,"
            " inventory_service, order_service, payment_service, tests]",
            "the suite matrix names an unknown suite tests",
        ),
        (
            "fromJSON(needs.affected.outputs.suites)",
            "fromJSON(needs.affected.outputs.services)",
            "the suite matrix reads affected.services, not `make affected`'s suites",
        ),
        (
            "      - id: map\n        run: make affected\n",
            "      - id: map\n        run: make lint\n",
            "the suite matrix reads affected.suites, not `make affected`'s suites",
        ),
        (
            "  test:\n    needs: affected\n",
            "  test:\n    needs: lint\n",
            "the suite matrix reads needs.affected, which the job does not need",
        ),
        # only the release job writes, and it does
        (
            "    permissions:\n      contents: write\n",
            "",
            "jobs.release-tag: `make release-tag` without permissions: contents: write",
        ),
        ("permissions:\n  contents: read\n", "permissions: write-all\n", "lets every job write"),
        (
            "  lint:\n    runs-on: ubuntu-24.04\n",
            "  lint:\n    permissions:\n      contents: write\n    runs-on: ubuntu-24.04\n",
            "jobs.lint: may write contents but cuts no release",
        ),
        (
            "      - run: make release-tag",
            "          persist-credentials: false\n      - run: make release-tag",
            "the checkout drops the token",
        ),
    ],
)
def test_a_broken_workflow_is_reported(tree, baseline, old, new, expected):
    edit(tree / WORKFLOW, old, new)
    assert_reported(tree, baseline, expected)


def test_without_a_workflow_the_check_fails(tree, baseline):
    (tree / WORKFLOW).unlink()
    assert_reported(tree, baseline, "no GitHub workflow")
