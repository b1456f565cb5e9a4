"""``make lint``: the repository explains itself, so every reference in it leads somewhere in it.

Over every file git knows (tracked, or new and not ignored):

- a relative link or image in a Markdown file (``[text](path#anchor)``, ``[ref]: path``) names a
  file or folder of the repository, and an anchor into a Markdown file names one of its headings
  (GitHub's slugs);
- a mention of a documentation page, ``docs/<page>.md`` or ``docs/<page>.md#anchor``, in any file
  (code, comments, charts, pipelines) names a page that exists, and a heading in it; tests are
  let off this one, as their data may name a missing page on purpose (a validator's test);
- no file points outside the repository: a ``../`` path that, read from the file's folder, leaves
  it (test data that must look like one is better written with a leading ``/``), or a mention of
  the design notes the platform was first built from, which live outside it and are not shipped.

    python -m platform_tools.testing.doclinks     # prints each problem; exit status 1 if any
"""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from service_kit.conf import REPO_ROOT

#: Design notes kept outside the repository while it was first built: a reference to one sends a
#: reader nowhere. (Spelled in parts, so that this file does not mention them itself.)
OUTSIDE_NOTES = re.compile(
    r"\b(?:" + "|".join(("ARCHITECTURE", "API", "KNOWN", "STYLE")) + r")\.md\b"
)
#: ``[text](target)`` and ``![alt](target "title")``.
INLINE_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'(][^)]*)?\)")
#: ``[ref]: target`` at the start of a line.
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
#: A documentation page named anywhere: ``docs/operations.md`` or ``docs/api.md#errors``.
DOCS_MENTION = re.compile(r"(?<![\w/.-])(docs/[\w./-]*\w\.md)(?:#([\w-]+))?")
#: A relative path that climbs: ``../charts/…`` (not the tail of ``/api/x/../y``).
CLIMBING_PATH = re.compile(r"(?<![\w/.])((?:\.\./)+[\w.-]*(?:/[\w.-]+)*)")
FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1", re.DOTALL)
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//")
#: Folders a walk of a checkout without git leaves out (the same as .gitignore's).
NOT_SOURCE = {".git", ".venv", "var", "reports", "node_modules", "__pycache__"}
TEST_FOLDERS = {"tests", "e2e"}
LARGEST = 2_000_000  # bytes: larger files are data, not prose or code


def repository_files(root: Path) -> list[str]:
    """Paths (relative, POSIX) of the files git tracks or would add; without git, a walk."""
    if (root / ".git").exists():
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode()
        return sorted({name for name in listed.split("\0") if name and (root / name).is_file()})
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file()
        and not NOT_SOURCE.intersection(path.relative_to(root).parts)
        and not path.name.endswith(".egg-info")
        and ".egg-info" not in path.relative_to(root).as_posix()
    )


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.replace("`", "").strip().lower()
    kept = "".join(
        c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN" or c.isalnum()
    )
    return kept.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for match in HEADING.finditer(FENCE.sub("", markdown)):
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


class Repository:
    def __init__(self, root: Path, files: Iterable[str]):
        self.root = root.resolve()
        self.files = set(files)
        self.folders = {str(PurePosixPath(f).parent) for f in self.files}
        for folder in list(self.folders):
            self.folders.update(str(p) for p in PurePosixPath(folder).parents)
        self._anchors: dict[str, set[str]] = {}

    def text(self, name: str) -> str | None:
        path = self.root / name
        if path.stat().st_size > LARGEST:
            return None
        raw = path.read_bytes()
        if b"\0" in raw:
            return None
        return raw.decode("utf-8", errors="replace")

    def inside(self, folder: str, target: str) -> str | None:
        """``target`` read from ``folder`` as a repository path, or None when it leaves it."""
        parts: list[str] = [] if folder in ("", ".") else folder.split("/")
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    return None
                parts.pop()
            else:
                parts.append(part)
        return "/".join(parts)

    def exists(self, name: str) -> bool:
        return name in self.files or name in self.folders or name == ""

    def anchor_problem(self, name: str, anchor: str) -> str | None:
        if not name.endswith(".md") or name not in self.files:
            return None
        if name not in self._anchors:
            self._anchors[name] = anchors(self.text(name) or "")
        if anchor.lower() not in self._anchors[name]:
            return f"no heading '#{anchor}' in {name}"
        return None


def link_problems(repo: Repository, name: str, text: str) -> list[str]:
    prose = CODE_SPAN.sub("", FENCE.sub("", text))
    folder = str(PurePosixPath(name).parent)
    found = []
    targets = [m.group(1) for m in INLINE_LINK.finditer(prose)]
    targets += [m.group(1) for m in REFERENCE_LINK.finditer(prose)]
    for target in targets:
        if SCHEME.match(target):
            continue
        path, _, anchor = unquote(target).partition("#")
        if not path:
            resolved: str | None = name
        elif path.startswith("/"):
            resolved = repo.inside("", path)
        else:
            resolved = repo.inside(folder, path)
        if resolved is None:
            found.append(f"{name}: link '{target}' leads outside the repository")
        elif not repo.exists(resolved.rstrip("/")):
            found.append(f"{name}: link '{target}': no {resolved} in the repository")
        elif anchor and (problem := repo.anchor_problem(resolved, anchor)):
            found.append(f"{name}: link '{target}': {problem}")
    return found


def without_link_targets(markdown: str) -> str:
    def blank(match: re.Match) -> str:
        start, end = match.span(1)
        return match.group(0)[: start - match.start()] + match.group(0)[end - match.start() :]

    return REFERENCE_LINK.sub(blank, INLINE_LINK.sub(blank, markdown))


def is_test(name: str) -> bool:
    return bool(TEST_FOLDERS.intersection(PurePosixPath(name).parts[:-1]))


def reference_problems(repo: Repository, name: str, text: str) -> list[str]:
    found = []
    for match in OUTSIDE_NOTES.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        found.append(
            f"{name}:{line}: '{match.group(0)}' is not in the repository: point to its page "
            "under docs/ or say it here"
        )
    for match in DOCS_MENTION.finditer("" if is_test(name) else text):
        page, anchor = match.group(1), match.group(2)
        line = text.count("\n", 0, match.start()) + 1
        if page not in repo.files:
            found.append(f"{name}:{line}: {page} does not exist")
        elif anchor and (problem := repo.anchor_problem(page, anchor)):
            found.append(f"{name}:{line}: {problem}")
    folder = str(PurePosixPath(name).parent)
    for match in CLIMBING_PATH.finditer(text):
        if repo.inside(folder, match.group(1)) is None:
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{name}:{line}: '{match.group(1)}' points outside the repository")
    return found


def problems(root: Path = REPO_ROOT, files: Iterable[str] | None = None) -> list[str]:
    """Every broken or outward reference in the repository at ``root``."""
    repo = Repository(root, repository_files(root) if files is None else files)
    found: list[str] = []
    for name in sorted(repo.files):
        text = repo.text(name)
        if text is None:
            continue
        if name.endswith(".md"):
            found += link_problems(repo, name, text)
            text = without_link_targets(text)  # checked as links: reported once
        found += reference_problems(repo, name, text)
    return found


def report(root: Path = REPO_ROOT) -> list[str]:
    found = problems(root)
    for problem in found:
        print(f"FAIL docs: {problem}")
    if not found:
        print("ok   docs               links and references stay inside the repository")
    return found


if __name__ == "__main__":
    sys.exit(1 if report() else 0)
