"""Releases: what changed since the last one, and whether it breaks a reader.

    python -m platform_tools.release check            # make lint: against the latest vX.Y.Z tag
    python -m platform_tools.release affected [BASE]  # make affected: services to build and deploy
    python -m platform_tools.release tag [minor|major|patch]  # make release-tag: the pipelines

``check`` compares every message contract file, every service's OpenAPI document (generated
by drf-spectacular) and the gateway's merged document (the paths as clients call them, so a route
the gateway stops sending is caught too) with the latest release tag's. A breaking change (see
:mod:`platform_tools.contracts`) fails unless it comes with a new major: a new
``<type>.v<MAJOR>.json`` beside the old one, or a new major of the service's ``api_version``.
With no release tag yet there is nothing to compare: it says so and passes. The tag's documents
are built from a ``git archive`` of it, cached under ``var/release/<commit>/``.

``affected`` maps ``git diff BASE`` to service folders: the services whose folder changed, the
services that read a message contract that changed, and every service when the shared runtime
changed (the kit, base requirements, the image). With ``GITHUB_OUTPUT`` set (a GitHub job) it
also writes there ``services`` (space-separated) and ``suites`` (a JSON list, the workflow's test
matrix: the always-run kit, tooling and system suites, and the affected services').

``tag`` cuts the next release: the latest ``vX.Y.Z`` raised by one (minor unless told; ``v1.0.0``
the first), as an annotated tag on HEAD, recorded in ``docs/releases.md`` by a commit after it, both
pushed to ``origin`` when it has one.

The releases are the tags and the ledger's rows together: a clone that lost the tags (a mirror or a
CI fetch that does not carry them) still knows every release whose commit it holds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from service_kit.conf import REPO_ROOT
from service_kit.messaging.schemas import Registry, load_contracts
from service_kit.platform import SERVICES, Service

from .contracts import consumer_problems, message_changes, openapi_changes

GIT = shutil.which("git") or "git"
#: The merged document's name among a release's documents (beside the service folders).
MERGED = "platform"
TAG_RE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
CONTRACT_RE = re.compile(r"^([^/]+)/contracts/messages/([^/]+)\.v(\d+)\.json$")
# A change here changes every service's image or runtime.
SHARED_RUNTIME = ("shared/service_kit/", "shared/docker/", "requirements/base.txt",
                  "requirements/production.txt", "shared/pyproject.toml")  # fmt: skip


def git(*args: str, root: Path = REPO_ROOT) -> str:
    # A CI container's checkout belongs to another user: trust this one repository.
    return subprocess.run(  # noqa: S603 - git, argv built here
        [GIT, "-c", f"safe.directory={root}", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


LEDGER = Path("docs") / "releases.md"
LEDGER_ROW = re.compile(r"^\|\s*(v\d+\.\d+\.\d+)\s*\|\s*([0-9a-f]{40})\s*\|", re.MULTILINE)


def releases(root: Path = REPO_ROOT) -> dict[str, str]:
    """Every release this clone knows, version → commit: its ``vX.Y.Z`` tags, and the ledger's
    rows whose commit it holds (a tag wins over a row of the same name)."""
    found: dict[str, str] = {}
    ledger = root / LEDGER
    if ledger.is_file():
        for version, commit in LEDGER_ROW.findall(ledger.read_text()):
            held = subprocess.run(  # noqa: S603 - git, argv built here
                [GIT, "-c", f"safe.directory={root}", "cat-file", "-e", f"{commit}^{{commit}}"],
                cwd=root,
                capture_output=True,
                check=False,
            )
            if held.returncode == 0:
                found[version] = commit
    for line in git("tag", "--list", "v*", "--format=%(refname:short) %(*objectname) %(objectname)",
                    root=root).splitlines():  # fmt: skip
        name, *objects = line.split()
        if TAG_RE.match(name):
            found[name] = objects[0]  # the tagged commit (an annotated tag's peeled object first)
    return found


def version_key(name: str) -> tuple[int, ...]:
    return tuple(int(n) for n in TAG_RE.match(name).groups())  # type: ignore[union-attr]


def latest_tag(root: Path = REPO_ROOT) -> str | None:
    """The highest release version (None: no release yet)."""
    known = releases(root)
    return max(known, key=version_key) if known else None


def release_commit(version: str, root: Path = REPO_ROOT) -> str:
    return releases(root)[version]


# -- check ----------------------------------------------------------------------------------


def message_problems(old: dict[str, dict[str, Any]], root: Path = REPO_ROOT) -> list[str]:
    """The last release's message schemas (type → major → schema) against ``root``'s contracts."""
    registry = Registry()
    load_contracts(registry, root)
    problems = []
    for name, majors in sorted(old.items()):
        current = registry.get(name)
        for major, schema in sorted(majors.items()):
            where = f"{name} v{major}"
            contract = current.contracts.get(int(major)) if current else None
            if contract is None:
                if current is None or max(current.contracts) <= int(major):
                    problems.append(f"{where}: contract removed without a newer major")
                continue
            problems += message_changes(f"{where} ({current.owner})", schema, contract.schema)
    return problems


_DUMP_MESSAGES = (
    "import json; from service_kit.messaging.schemas import registry; print(json.dumps({n: "
    "({str(m): c.schema for m, c in t.contracts.items()} if hasattr(t, 'contracts') "
    "else {str(t.version): t.schema}) for n, t in registry.items()}))"
)


def tag_messages(tree: Path) -> dict[str, dict[str, Any]]:
    """The message schemas a checkout's kit knows (its contract files, or before they moved to
    the services, the kit's own registry), by type and major."""
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "-c", _DUMP_MESSAGES],
        env={**os.environ, "PYTHONPATH": str(tree / "shared")},
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    messages: dict[str, dict[str, Any]] = json.loads(result.stdout)
    return messages


def openapi_document(service: Service, tree: Path) -> dict[str, Any] | None:
    """A service's OpenAPI document as drf-spectacular builds it from ``tree`` (a checkout),
    with that tree's kit first on the path (None: the service is not in that tree)."""
    folder = tree / service.folder
    if not (folder / "manage.py").is_file():
        return None
    return _manage_json(folder, tree, "spectacular", "--format", "openapi-json")


def merged_document(tree: Path) -> dict[str, Any] | None:
    """The gateway's merged OpenAPI document as ``tree`` builds it (``manage.py openapi``, the
    tree's kit first on the path); None when that tree has none (releases before it)."""
    gateway = tree / "gateway"
    if not (gateway / "edge" / "management" / "commands" / "openapi.py").is_file():
        return None
    return _manage_json(gateway, tree, "openapi")


def _manage_json(folder: Path, tree: Path, *args: str) -> dict[str, Any]:
    """What ``manage.py ARGS`` prints as JSON in ``folder`` of checkout ``tree``: that tree's kit
    first on the path, none of this run's databases, broker or settings."""
    with tempfile.TemporaryDirectory(prefix="platform-openapi-") as data:
        env = {**os.environ, "PLATFORM_DATA_DIR": data, "PYTHONPATH": str(tree / "shared")}
        for key in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL"):
            env.pop(key, None)
        result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
            [sys.executable, "manage.py", *args],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def tag_snapshot(tag: str, part: str, root: Path = REPO_ROOT) -> Any:
    """The tag's ``messages`` (schemas by type and major) or ``openapi`` (documents by service
    folder), built from a ``git archive`` of it and cached by its commit."""
    commit = release_commit(tag, root)
    cache = root / "var" / "release" / commit
    cached = cache / f"{part}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    tree = cache / "tree"
    if not tree.is_dir():
        archive = subprocess.run(  # noqa: S603 - git, argv built here
            [GIT, "-c", f"safe.directory={root}", "archive", commit],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as scratch, tempfile.TemporaryFile() as handle:
            handle.write(archive)
            handle.seek(0)
            with tarfile.open(fileobj=handle) as tar:
                tar.extractall(scratch, filter="data")
            Path(scratch).rename(tree)  # whole or not at all
    if part == "messages":
        built: Any = tag_messages(tree)
    else:
        built = dict(zip([s.folder for s in SERVICES], _built(SERVICES, tree), strict=True))
        built[MERGED] = merged_document(tree)
    cached.write_text(json.dumps(built))
    return built


def _built(services: Iterable[Service], tree: Path) -> list[dict[str, Any] | None]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda s: openapi_document(s, tree), services))


def api_problems(old_documents: dict[str, Any], root: Path = REPO_ROOT) -> list[str]:
    problems = []
    for service, new in zip(SERVICES, _built(SERVICES, root), strict=True):
        problems += document_problems(service.folder, old_documents.get(service.folder), new)
    if old_documents.get(MERGED) is not None:  # the tag had a merged document
        problems += document_problems(MERGED, old_documents[MERGED], merged_document(root))
    return problems


def document_problems(name: str, old: dict | None, new: dict | None) -> list[str]:
    """What breaks a client of ``old`` in ``new``, unless ``new`` raised the major version."""
    if old is None or new is None or _major(new) > _major(old):
        return []  # nothing to compare, or a new major of the API: it may break
    return openapi_changes(name, old, new)


def _major(document: dict[str, Any]) -> int:
    return int(str(document.get("info", {}).get("version", "1")).split(".")[0] or 1)


def check(root: Path = REPO_ROOT, *, api: bool = True) -> list[str]:
    problems = consumer_problems(root)
    tag = latest_tag(root)
    if tag is None:
        print("release check: no vX.Y.Z tag yet, nothing to compare with (the first release)")
        return problems
    print(f"release check: against {tag}")
    problems += message_problems(tag_snapshot(tag, "messages", root), root)
    if api:
        problems += api_problems(tag_snapshot(tag, "openapi", root), root)
    return problems


# -- affected -------------------------------------------------------------------------------


def readers(root: Path = REPO_ROOT) -> dict[str, set[str]]:
    """Message type → the service folders that read it (their ``reads.json``)."""
    found: dict[str, set[str]] = {}
    for declaration in root.glob("*/contracts/reads.json"):
        for name in json.loads(declaration.read_text()):
            found.setdefault(name, set()).add(declaration.parents[1].name)
    return found


def affected(changed: Iterable[str] | None, root: Path = REPO_ROOT) -> list[str]:
    """The service folders a change of ``changed`` (paths) needs built, tested and deployed
    (``None``, no release to compare with: every one)."""
    folders = [s.folder for s in SERVICES]
    if changed is None:
        return folders
    result: set[str] = set()
    who_reads = readers(root)
    for path in changed:
        if path.startswith(SHARED_RUNTIME):
            return folders
        top = path.split("/", 1)[0]
        if top in folders:
            result.add(top)
        match = CONTRACT_RE.match(path)
        if match:
            result |= who_reads.get(match[2], set())
    return [f for f in folders if f in result]


def changed_files(base: str, root: Path = REPO_ROOT) -> list[str] | None:
    """The paths changed since ``base`` (a ref; empty: the latest release tag, None if none)."""
    if not base:
        tag = latest_tag(root)
        if tag is None:
            return None
        base = release_commit(tag, root)
    return git("diff", "--name-only", f"{base}...HEAD", root=root).split()


ALWAYS_TESTED = ("kit", "tooling", "system")


def next_version(root: Path = REPO_ROOT, part: str = "minor") -> str:
    """The release after the latest tag (``v1.0.0`` when there is none)."""
    tag = latest_tag(root)
    if tag is None:
        return "v1.0.0"
    major, minor, patch = version_key(tag)
    if part == "major":
        return f"v{major + 1}.0.0"
    if part == "patch":
        return f"v{major}.{minor}.{patch + 1}"
    return f"v{major}.{minor + 1}.0"


def cut(root: Path = REPO_ROOT, part: str = "minor") -> str:
    """Tag HEAD as the next release, record it in the ledger by a commit after it, and push both
    to ``origin`` when there is one (the ledger's commit to the branch checked out, or to
    ``RELEASE_BRANCH`` on a detached checkout)."""
    head = git("rev-parse", "HEAD", root=root).strip()
    released = {commit: name for name, commit in releases(root).items()}
    if head in released:
        return released[head]  # this commit is released already
    parent = git("log", "-1", "--skip=1", "--format=%H", root=root).strip()  # none: first commit
    if parent in released and git("diff", "--name-only", parent, head, root=root).split() == [
        LEDGER.as_posix()
    ]:
        return released[parent]  # HEAD only records that release
    version = next_version(root, part)
    configured = subprocess.run(  # noqa: S603 - git, argv built here
        [GIT, "config", "user.email"], cwd=root, capture_output=True, check=False
    ).stdout.strip()
    who = (
        [] if configured else ["-c", "user.name=Release pipeline", "-c", "user.email=ci@localhost"]
    )
    git(*who, "tag", "-a", version, "-m", f"Release {version}", root=root)
    ledger = root / LEDGER
    date = git("log", "-1", "--format=%cs", "HEAD", root=root).strip()
    if not ledger.is_file():
        ledger.parent.mkdir(parents=True, exist_ok=True)
        ledger.write_text("# Releases\n\n| version | commit | date |\n| --- | --- | --- |\n")
    with ledger.open("a") as handle:
        handle.write(f"| {version} | {head} | {date} |\n")
    git("add", str(LEDGER), root=root)
    git(*who, "commit", "-q", "-m", f"Record release {version} in {LEDGER}", root=root)
    if "origin" in git("remote", root=root).split():
        branch = subprocess.run(  # noqa: S603 - git, argv built here
            [GIT, "symbolic-ref", "-q", "--short", "HEAD"], cwd=root, capture_output=True,
            text=True, check=False,
        ).stdout.strip() or os.environ.get("RELEASE_BRANCH", "main")  # fmt: skip
        # both or neither: a branch that moved meanwhile refuses the ledger's commit, and the tag
        # then stays unpushed too (the pipeline fails; its next run tags again)
        git("push", "--atomic", "origin", version, f"HEAD:refs/heads/{branch}", root=root)
    return version


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["affected"] and len(args) <= 2:
        services = affected(changed_files(args[1] if len(args) == 2 else ""))
        print(" ".join(services))
        if output := os.environ.get("GITHUB_OUTPUT"):
            with open(output, "a") as handle:
                handle.write(f"services={' '.join(services)}\n")
                handle.write(f"suites={json.dumps([*ALWAYS_TESTED, *services])}\n")
        return 0
    if args[:1] == ["tag"] and len(args) <= 2:
        part = args[1] if len(args) == 2 else "minor"
        if part not in ("major", "minor", "patch"):
            print("tag: major, minor or patch", file=sys.stderr)
            return 2
        print(cut(part=part))
        return 0
    if args[:1] == ["check"]:
        problems = check()
        for problem in problems:
            print(f"BREAKING {problem}")
        print(f"release check: {len(problems)} breaking change(s)")
        return 1 if problems else 0
    print(
        "usage: python -m platform_tools.release check | affected [BASE] | tag [major|minor|patch]",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
