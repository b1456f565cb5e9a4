"""Contracts that evolve: consumers' declarations against producers' contracts, a release
against the last one (on a scratch clone with its own tags), and the services a diff affects."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from copies import edit

from platform_tools import contracts, release
from service_kit.conf import REPO_ROOT
from service_kit.platform import SERVICES

FOLDERS = [s.folder for s in SERVICES]


def contract_copy(tmp_path: Path) -> Path:
    """Every service's contracts folder, in a copy."""
    for folder in REPO_ROOT.glob("*/contracts"):
        shutil.copytree(folder, tmp_path / folder.relative_to(REPO_ROOT))
    return tmp_path


# -- consumer-driven contracts ------------------------------------------------------------------


def test_every_consumer_reads_what_its_producers_send():
    assert contracts.consumer_problems(REPO_ROOT) == []


def test_a_producer_that_drops_or_retypes_a_field_someone_reads_fails_with_it_named(tmp_path):
    root = contract_copy(tmp_path)
    succeeded = root / "payment_service/contracts/messages/payment.succeeded.v1.json"
    document = json.loads(succeeded.read_text())
    del document["schema"]["properties"]["payment_id"]
    document["schema"]["properties"]["amount"] = {"type": "number"}
    succeeded.write_text(json.dumps(document))
    edit(
        root / "inventory_service/contracts/messages/inventory.rejected.v1.json",
        '"available": {\n',
        '"available_now": {\n',
    )
    assert contracts.consumer_problems(root) == [
        "order_service reads inventory.rejected v1: field 'short[].available' is not in "
        "inventory's",
        "order_service reads payment.succeeded v1: field 'payment_id' is not in payment's",
        "order_service reads payment.succeeded v1: field 'amount' is number in payment's, "
        "read as string",
    ]


def test_a_consumer_of_a_major_its_producer_dropped_fails(tmp_path):
    root = contract_copy(tmp_path)
    messages = root / "auth_service/contracts/messages"
    (messages / "user.erased.v1.json").rename(messages / "user.erased.v2.json")
    edit(messages / "user.erased.v2.json", '"version": "1.0"', '"version": "2.0"')
    assert contracts.consumer_problems(root) == [
        "user_service reads user.erased v1, which auth no longer has (v2)"
    ]


# -- the differs ----------------------------------------------------------------------------------


def test_message_differ_names_removed_retyped_and_newly_required_fields():
    old = {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "string"},
            "note": {"type": "string"},
            "lines": {"type": "array", "items": {"properties": {"qty": {"type": "integer"}}}},
        },
    }
    new = copy.deepcopy(old)
    del new["properties"]["note"]
    new["properties"]["lines"]["items"]["properties"]["qty"] = {"type": "string"}
    new["properties"]["due"] = {"type": "string"}
    new["required"].append("due")
    new["properties"]["extra"] = {"type": "string", "description": "an added optional field"}
    assert contracts.message_changes("x.y v1", old, new) == [
        "x.y v1: field 'note' removed",
        "x.y v1: field 'lines[].qty' changed type integer → string",
        "x.y v1: field 'due' newly required",
    ]
    assert contracts.message_changes("x.y v1", old, old) == []


@pytest.fixture(scope="module")
def order_api():
    """order_service's OpenAPI document as drf-spectacular builds it."""
    order = next(s for s in SERVICES if s.folder == "order_service")
    return release.openapi_document(order, REPO_ROOT)


def test_openapi_differ_tolerates_added_docs_and_names_each_breaking_change(order_api):
    new = copy.deepcopy(order_api)
    orders = new["paths"]["/api/v1/orders/"]
    # Documentation added anywhere is never a break.
    for operation in orders.values():
        operation.update(summary="Orders", tags=["orders"], description="More words.")
        operation["responses"]["418"] = {"description": "an error response documented"}
    assert contracts.openapi_changes("order_service", order_api, new) == []
    # Breaking: a path, an operation, a response field, a type, a new required request field.
    (removed_path, *_) = [p for p in new["paths"] if p != "/api/v1/orders/"]
    del new["paths"][removed_path]
    del orders["get"]
    order = new["components"]["schemas"]["Order"]["properties"]
    del order["status"]
    order["total"] = {"type": "integer"}
    request = orders["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = new["components"]["schemas"][request.rsplit("/", 1)[1]]
    body["properties"]["coupon"] = {"type": "string"}
    body.setdefault("required", []).append("coupon")
    problems = contracts.openapi_changes("order_service", order_api, new)
    assert f"order_service: path {removed_path} removed" in problems
    assert "order_service: GET /api/v1/orders/: operation removed" in problems
    assert "order_service: POST /api/v1/orders/ 201: field 'status' removed" in problems
    assert (
        "order_service: POST /api/v1/orders/ 201: field 'total' changed type string → integer"
        in problems
    )
    assert "order_service: POST /api/v1/orders/ request: field 'coupon' newly required" in problems


def test_the_merged_document_is_compared_too_and_a_new_major_may_break():
    """The gateway's merged document, built as a release builds it: a path the gateway stops
    routing fails the check by its client path; the same under a raised major passes."""
    old = release.merged_document(REPO_ROOT)
    assert old is not None and "/api/v1/orders/" in old["paths"]
    new = copy.deepcopy(old)
    del new["paths"]["/api/v1/orders/"]
    assert release.document_problems(release.MERGED, old, old) == []
    assert release.document_problems(release.MERGED, old, new) == [
        "platform: path /api/v1/orders/ removed"
    ]
    major = int(old["info"]["version"].split(".")[0]) + 1
    new["info"]["version"] = f"{major}.0.0"
    assert release.document_problems(release.MERGED, old, new) == []


# -- against the last release tag, on a scratch clone ---------------------------------------------


def git(root: Path, *args: str) -> str:
    return subprocess.run(  # noqa: S603 - git, argv built here
        [release.GIT, *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def scratch(tmp_path):
    """A repository with the kit and every service's contracts, no tag yet."""
    root = tmp_path / "repo"
    shutil.copytree(
        REPO_ROOT / "shared/service_kit",
        root / "shared/service_kit",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    contract_copy(root)
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    commit(root, "first")
    return root


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", message)


def test_no_release_tag_yet_is_skipped_with_a_message(scratch, capsys):
    assert release.latest_tag(scratch) is None
    assert release.check(scratch, api=False) == []
    assert "no vX.Y.Z tag yet" in capsys.readouterr().out
    assert release.affected(release.changed_files("", scratch), scratch) == FOLDERS


def test_latest_tag_is_the_highest_version_not_the_newest_name(scratch):
    for tag in ("v1.2.0", "v1.10.0", "v2.0.0-rc1", "vnext", "v1.9.9"):
        git(scratch, "tag", tag)
    assert release.latest_tag(scratch) == "v1.10.0"


def test_a_breaking_schema_change_fails_unless_it_comes_as_a_new_major(scratch):
    git(scratch, "tag", "v1.0.0")
    assert release.check(scratch, api=False) == []
    messages = scratch / "payment_service/contracts/messages"
    edit(messages / "payment.succeeded.v1.json", '"currency": {', '"currency_code": {')
    commit(scratch, "a breaking change in a scratch commit")
    assert release.check(scratch, api=False) == [
        "order_service reads payment.succeeded v1: field 'currency' is not in payment's",
        "payment.succeeded v1 (payment): field 'currency' removed",
    ]
    # The same change as a new major beside the old one, which stays until no one reads it.
    git(scratch, "checkout", "-q", "v1.0.0", "--", str(messages / "payment.succeeded.v1.json"))
    v2 = messages / "payment.succeeded.v2.json"
    shutil.copy(messages / "payment.succeeded.v1.json", v2)
    edit(v2, '"currency": {', '"currency_code": {')
    edit(v2, '"version": "1.0"', '"version": "2.0"')
    commit(scratch, "the change as major 2")
    assert release.check(scratch, api=False) == []
    # Dropping major 1 while order_service reads it still fails.
    (messages / "payment.succeeded.v1.json").unlink()
    assert release.check(scratch, api=False) == [
        "order_service reads payment.succeeded v1, which payment no longer has (v2)"
    ]


# -- affected services ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["docs/messages.md", "README.md"], []),
        (["order_service/orders/views.py"], ["order_service"]),
        # a producer's contract: the producer and everyone who reads it
        (
            ["payment_service/contracts/messages/payment.succeeded.v1.json"],
            ["order_service", "payment_service"],
        ),
        (
            ["auth_service/contracts/messages/user.registered.v1.json", "gateway/edge/routes.py"],
            ["gateway", "auth_service", "user_service"],
        ),
        (["shared/service_kit/messaging/consumer.py"], FOLDERS),
        (["requirements/base.txt"], FOLDERS),
    ],
)
def test_a_diff_maps_to_the_services_it_changes_and_their_consumers(changed, expected):
    assert release.affected(changed) == expected


def test_a_github_job_gets_the_services_and_the_suites_to_test(monkeypatch, tmp_path, capsys):
    """``suites`` is the workflow's test matrix (a JSON list); every suite ``make test`` knows is
    in it when everything is affected."""
    from platform_tools.testing.run_all import SUITES

    output = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setattr(release, "changed_files", lambda base: ["order_service/orders/views.py"])
    assert release.main(["affected"]) == 0
    monkeypatch.setattr(release, "changed_files", lambda base: ["shared/service_kit/conf.py"])
    assert release.main(["affected", "v1.0.0"]) == 0
    assert capsys.readouterr().out.splitlines() == ["order_service", " ".join(FOLDERS)]
    lines = output.read_text().splitlines()
    assert lines[:2] == [
        "services=order_service",
        'suites=["kit", "tooling", "system", "order_service"]',
    ]
    assert lines[2] == f"services={' '.join(FOLDERS)}"
    suites = json.loads(lines[3].removeprefix("suites="))
    assert sorted(suites) == sorted(SUITES)


def test_affected_reads_the_diff_since_a_ref(scratch):
    git(scratch, "tag", "v1.0.0")
    (scratch / "order_service" / "orders").mkdir(parents=True)
    (scratch / "order_service" / "orders" / "views.py").write_text("")
    edit(
        scratch / "product_service/contracts/messages/product.deleted.v1.json",
        '"type": "product.deleted"',
        '"type": "product.deleted", "note": "docs"',
    )
    commit(scratch, "two services")
    changed = release.changed_files("v1.0.0", scratch)
    assert release.affected(changed, scratch) == [
        "product_service",
        "inventory_service",
        "order_service",
    ]


def test_the_pipelines_cut_the_next_release_tag_once_per_commit(scratch):
    assert release.next_version(scratch) == "v1.0.0"
    assert release.cut(scratch) == "v1.0.0"
    assert release.cut(scratch) == "v1.0.0"  # the same commit is not released twice
    (scratch / "order_service" / "x.py").write_text("")
    commit(scratch, "a change")
    assert release.next_version(scratch, "major") == "v2.0.0"
    assert release.next_version(scratch, "patch") == "v1.0.1"
    released = git(scratch, "rev-parse", "HEAD").strip()
    assert release.cut(scratch) == "v1.1.0"
    assert git(scratch, "rev-parse", "v1.1.0^{commit}").strip() == released
    assert git(scratch, "cat-file", "-t", "v1.1.0").strip() == "tag"  # annotated
    # the ledger's commit follows the tagged one and names it
    assert git(scratch, "rev-parse", "HEAD~1").strip() == released
    assert f"| v1.1.0 | {released} |" in (scratch / "docs/releases.md").read_text()
    assert git(scratch, "status", "--porcelain") == ""


def test_a_clone_without_the_tags_knows_the_releases_from_the_ledger(scratch, tmp_path):
    release.cut(scratch)  # v1.0.0, tagged and recorded
    messages = scratch / "payment_service/contracts/messages"
    edit(messages / "payment.succeeded.v1.json", '"currency": {', '"currency_code": {')
    commit(scratch, "a breaking change after the release")
    bare = tmp_path / "no-tags"
    git(tmp_path, "clone", "-q", "--no-tags", str(scratch), str(bare))
    assert git(bare, "tag") == ""
    assert release.releases(bare) == release.releases(scratch)
    assert release.latest_tag(bare) == "v1.0.0"
    assert "payment.succeeded v1 (payment): field 'currency' removed" in release.check(
        bare, api=False
    )
    # a row whose commit this clone does not hold is no release of it
    ledger = bare / "docs/releases.md"
    ledger.write_text(ledger.read_text() + f"| v9.0.0 | {'0' * 40} | 2026-12-07 |\n")
    assert release.latest_tag(bare) == "v1.0.0"


def test_the_tag_and_its_ledger_commit_are_pushed_together_or_not_at_all(scratch, tmp_path):
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(scratch), str(origin))
    git(scratch, "remote", "add", "origin", str(origin))
    assert release.cut(scratch) == "v1.0.0"
    assert git(origin, "tag").split() == ["v1.0.0"]
    assert git(origin, "rev-parse", "main") == git(scratch, "rev-parse", "HEAD")  # the ledger's
    # Someone else's commit reaches the branch while this one waits to be released.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    (other / "README.md").write_text("meanwhile\n")
    commit(other, "meanwhile")
    git(other, "push", "-q", "origin", "main")
    (scratch / "order_service" / "x.py").write_text("")
    commit(scratch, "a change")
    with pytest.raises(subprocess.CalledProcessError):
        release.cut(scratch)
    assert git(origin, "tag").split() == ["v1.0.0"]  # no tag without its ledger row
