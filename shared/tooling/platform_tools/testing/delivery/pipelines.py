"""The delivery pipelines: ``Jenkinsfile`` and ``.github/workflows/*.yml``.

- The Jenkinsfile is parsed by the Groovy compiler (Debian's ``groovy``, the language Jenkins
  runs it in): a syntax error fails here, not on the Jenkins controller. An outline of its calls
  (each with the calls it is nested in) is then checked: a declarative ``pipeline {}`` with an
  agent, the options, ``REGISTRY``; the stages in order (checkout, install, lint, every test suite
  in parallel with its JUnit report, e2e, images, push, deploy to staging, smoke test, approval,
  deploy to production); deploys and approval only on ``main``, with a kubeconfig credential;
  ``post`` archiving the reports and notifying on failure and success.
- Every ``sh`` step is ``make <target> [VAR=value ...]`` and every target is in the Makefile, so
  the pipeline does nothing a person cannot run with the same command.
- ``make release-tag`` (it pushes a tag and a commit) runs on ``main`` only, inside
  ``withCredentials`` binding the ``platform-git`` credential.
- Each GitHub workflow is validated against the GitHub workflow JSON schema (check-jsonschema's
  copy), its ``run:`` steps call only existing make targets, and the test jobs have PostgreSQL,
  RabbitMQ and Redis as service containers; a suite matrix lists every suite or is the ``suites``
  output of a job it needs that runs ``make affected``; only the job running ``make release-tag``
  may write the repository's contents.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from service_kit.conf import REPO_ROOT

#: Prints the Jenkinsfile's calls as JSON: name, receiver, string and named arguments, and the ids
#: of the calls it is nested in (``stage('Lint') { steps { sh 'make lint' } }``: sh's parents are
#: stage and steps). Functions the file defines (``def notify(...)``) are listed with their calls.
OUTLINE_GROOVY = r"""
import groovy.json.JsonOutput
import org.codehaus.groovy.ast.CodeVisitorSupport
import org.codehaus.groovy.ast.expr.*
import org.codehaus.groovy.control.CompilationFailedException
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases

class Outline extends CodeVisitorSupport {
    List calls = []
    List assigns = []
    List parents = []

    static List items(Expression args) {
        args instanceof TupleExpression ? args.expressions : [args]
    }

    static String text(Expression e) {
        if (e instanceof ConstantExpression && e.value instanceof String) return e.value
        if (e instanceof GStringExpression) return e.text
        null
    }

    void visitMethodCallExpression(MethodCallExpression call) {
        def named = [:]
        items(call.arguments).findAll { it instanceof MapExpression }.each { map ->
            map.mapEntryExpressions.each { entry ->
                // literals only: a variable's value is not known here
                def value = entry.valueExpression
                def literal = value instanceof ConstantExpression ? value.value?.toString() : null
                named[entry.keyExpression.text] = literal ?: text(value)
            }
        }
        def id = calls.size()
        calls << [
            id: id, name: call.methodAsString, line: call.lineNumber,
            receiver: call.implicitThis ? null : call.objectExpression.text,
            parents: parents.clone(), named: named,
            strings: items(call.arguments).collect { text(it) }.findAll { it != null },
            words: items(call.arguments).findAll { it instanceof VariableExpression }*.name,
        ]
        call.objectExpression.visit(this)
        parents << id
        call.arguments.visit(this)
        parents.remove(parents.size() - 1)
    }

    void visitBinaryExpression(BinaryExpression e) {
        if (e.operation.text == '=' && e.leftExpression instanceof VariableExpression) {
            assigns << [name: e.leftExpression.name, parents: parents.clone(), line: e.lineNumber]
        }
        super.visitBinaryExpression(e)
    }
}

def unit = new CompilationUnit()
def source = unit.addSource(new File(args[0]))
try {
    unit.compile(Phases.CONVERSION)
} catch (CompilationFailedException failure) {
    System.err.println(failure.message)
    System.exit(2)
}
def outline = new Outline()
source.AST.statementBlock.statements.each { it.visit(outline) }
def top = outline.calls.findAll { it.parents.isEmpty() }*.id
def methods = source.AST.methods.collect { method ->
    def first = outline.calls.size()
    method.code.visit(outline)
    [name: method.name, line: method.lineNumber, calls: (first..<outline.calls.size()).toList()]
}
println JsonOutput.toJson(
    [calls: outline.calls, assigns: outline.assigns, top: top, methods: methods]
)
"""

#: ``make <target> [VAR=value ...]``: the only shell step either pipeline may have.
MAKE_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S+$")
#: A Makefile rule's target(s): ``name:`` or ``a b:`` (not ``x := ...``, not ``$(VENV)/.base:``).
MAKE_RULE = re.compile(r"^([A-Za-z0-9_][\w.-]*(?:[ \t]+[A-Za-z0-9_][\w.-]*)*)[ \t]*:(?![=:])")
#: A GitHub expression, ``${{ matrix.suite }}``: one word of the command it stands in.
GITHUB_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
OPTIONS = ("timeout", "disableConcurrentBuilds", "buildDiscarder", "timestamps")
NOTIFIERS = {"httpRequest", "mail", "emailext", "slackSend", "office365ConnectorSend"}
BACKING = ("postgres", "rabbitmq", "redis")


def suites() -> list[str]:
    """The suites ``make test`` runs (``make test SUITES=<name>`` runs one): the kit's, the
    tooling's, the system tests and each service's."""
    from platform_tools.testing.run_all import SUITES

    return list(SUITES)


def make_targets(makefile: Path) -> set[str]:
    """The targets of the Makefile's rules (what ``make <target>`` can be asked for)."""
    targets: set[str] = set()
    for line in makefile.read_text().splitlines():
        match = MAKE_RULE.match(line)
        if match:
            targets.update(match.group(1).split())
    return targets


@dataclass(frozen=True)
class MakeCall:
    target: str
    variables: dict[str, str]


def parse_make(command: str | None) -> MakeCall | str:
    """``make <target> [VAR=value ...]`` parsed, or what is wrong with the command."""
    if command is None:
        return "is not a literal string"
    try:
        words = shlex.split(command)
    except ValueError as exc:
        return f"{command!r} does not parse as a shell command: {exc}"
    if len(words) < 2 or words[0] != "make" or words[1].startswith("-") or "=" in words[1]:
        return f"{command!r} is not `make <target> [VAR=value ...]`"
    bad = [word for word in words[2:] if not MAKE_VAR.match(word)]
    if bad:
        return f"{command!r} has {' '.join(bad)!r} after the target: only VAR=value may follow"
    return MakeCall(words[1], dict(word.split("=", 1) for word in words[2:]))


def check(root: Path = REPO_ROOT) -> list[str]:
    makefile = root / "Makefile"
    if not makefile.is_file():
        return ["Makefile: missing"]
    targets = make_targets(makefile)
    return check_jenkinsfile(root / "Jenkinsfile", targets) + check_workflows(
        root / ".github" / "workflows", targets
    )


# -- Jenkinsfile -----------------------------------------------------------------------------------


def groovy_env() -> dict[str, str]:
    """groovy's environment: JAVA_HOME found from ``java`` on the PATH when it is not set."""
    env = dict(os.environ)
    if not Path(env.get("JAVA_HOME", ""), "bin", "java").exists():
        java = shutil.which("java")
        if java:
            env["JAVA_HOME"] = str(Path(java).resolve().parent.parent)
    return env


def outline(jenkinsfile: Path) -> dict | str:
    """The Jenkinsfile's outline, or why there is none (a syntax error, no groovy)."""
    groovy = shutil.which("groovy")
    if not groovy:
        return "groovy is not installed (make tools)"
    with tempfile.TemporaryDirectory(prefix="jenkinsfile-") as folder:
        script = Path(folder) / "outline.groovy"
        script.write_text(OUTLINE_GROOVY)
        result = subprocess.run(  # noqa: S603 - argv built here from a found binary and fixed arguments
            [groovy, str(script), str(jenkinsfile.resolve())],
            capture_output=True,
            text=True,
            env=groovy_env(),
            timeout=120,
        )
    if result.returncode == 2:
        return "does not parse: " + " ".join(result.stderr.split())[:1000]
    if result.returncode:
        return f"groovy failed ({result.returncode}): {(result.stderr or result.stdout)[-1000:]}"
    return json.loads(result.stdout)


class Pipeline:
    """The outline's calls, with what a check asks of them: nesting, stages, when-conditions."""

    def __init__(self, data: dict):
        self.calls: list[dict] = data["calls"]
        self.assigns: list[dict] = data["assigns"]
        self.top = [self.calls[i] for i in data["top"]]
        self.methods = {m["name"]: [self.calls[i] for i in m["calls"]] for m in data["methods"]}

    def parents(self, call: dict) -> list[dict]:
        return [self.calls[i] for i in call["parents"]]

    def inside(self, call: dict, *names: str) -> bool:
        """Whether ``call`` is nested in calls with these names, in this order."""
        chain = [parent["name"] for parent in self.parents(call)]
        position = 0
        for name in names:
            try:
                position = chain.index(name, position) + 1
            except ValueError:
                return False
        return True

    def named(self, name: str) -> list[dict]:
        return [call for call in self.calls if call["name"] == name and call["receiver"] is None]

    def children(self, call: dict, name: str | None = None) -> list[dict]:
        return [
            c
            for c in self.calls
            if c["parents"] and c["parents"][-1] == call["id"] and name in (None, c["name"])
        ]

    def stages(self, call: dict) -> list[dict]:
        return [parent for parent in self.parents(call) if parent["name"] == "stage"]

    def on_main_only(self, call: dict) -> bool:
        """Whether a stage around ``call`` has ``when { branch 'main' }``."""
        return any(
            branch["strings"] == ["main"]
            for stage in self.stages(call)
            for when in self.children(stage, "when")
            for branch in self.children(when, "branch")
        )

    def reached(self, calls: list[dict]) -> list[dict]:
        """``calls`` and the calls of the Jenkinsfile's functions they call, transitively."""
        seen, todo = [], list(calls)
        while todo:
            call = todo.pop()
            if call in seen:
                continue
            seen.append(call)
            if call["receiver"] is None:
                todo.extend(self.methods.get(call["name"], []))
        return seen


#: A finding on the Jenkinsfile: the call it is about (its line is reported), or None, and what.
Finding = tuple[dict | None, str]


@dataclass(frozen=True)
class Jenkinsfile:
    """What the rules read: the outline, its one ``pipeline`` block and its ``make`` steps."""

    pipe: Pipeline
    pipeline: dict
    makes: list[tuple[dict, MakeCall]]

    def makes_of(self, *targets: str) -> list[tuple[dict, MakeCall]]:
        return [(step, call) for step, call in self.makes if call.target in targets]


def check_jenkinsfile(path: Path, targets: set[str]) -> list[str]:
    name = "Jenkinsfile"
    if not path.is_file():
        return [f"{name}: missing"]
    data = outline(path)
    if isinstance(data, str):
        return [f"{name}: {data}"]
    pipe = Pipeline(data)
    if len(pipe.top) != 1 or pipe.top[0]["name"] != "pipeline":
        found = ", ".join(call["name"] for call in pipe.top) or "nothing"
        return [
            f"{name}: one declarative `pipeline {{ }}` block expected at top level, got {found}"
        ]
    makes, findings = shell_steps(pipe, targets)
    jenkinsfile = Jenkinsfile(pipe, pipe.top[0], makes)
    for rule in JENKINSFILE_RULES:
        findings += rule(jenkinsfile)
    return [
        f"{name}:{call['line']}: {message}" if call else f"{name}: {message}"
        for call, message in findings
    ]


def shell_steps(pipe: Pipeline, targets: set[str]) -> tuple[list[tuple[dict, MakeCall]], list]:
    """Every ``sh`` step parsed as ``make <target> [VAR=...]`` of an existing target; the
    findings on those that are not."""
    makes: list[tuple[dict, MakeCall]] = []
    findings: list[Finding] = []
    for step in pipe.named("sh"):
        command = step["strings"][0] if step["strings"] else step["named"].get("script")
        parsed = parse_make(command)
        if isinstance(parsed, str):
            findings.append((step, f"sh step {parsed}"))
        elif parsed.target not in targets:
            findings.append(
                (step, f"sh step calls `make {parsed.target}`: no such target in the Makefile")
            )
        else:
            makes.append((step, parsed))
    return makes, findings


def agent_rule(jf: Jenkinsfile) -> list[Finding]:
    """The pipeline has an agent; with ``agent none`` every sh step's stage has its own."""
    pipe = jf.pipe
    agents = pipe.children(jf.pipeline, "agent")
    if not agents:
        return [(jf.pipeline, "pipeline has no agent")]
    if agents[0]["words"] != ["none"]:
        return []
    return [
        (step, "sh step runs in no stage with an agent (the pipeline's is none)")
        for step, _ in jf.makes
        if not any(pipe.children(stage, "agent") for stage in pipe.stages(step))
    ]


def options_rule(jf: Jenkinsfile) -> list[Finding]:
    pipe = jf.pipe
    options = [c["name"] for o in pipe.children(jf.pipeline, "options") for c in pipe.children(o)]
    return [
        (jf.pipeline, f"pipeline options lack {option}()")
        for option in OPTIONS
        if option not in options
    ]


def environment_rule(jf: Jenkinsfile) -> list[Finding]:
    environment = jf.pipe.children(jf.pipeline, "environment")
    if environment and any(
        assign["name"] == "REGISTRY" and assign["parents"][-1] == environment[0]["id"]
        for assign in jf.pipe.assigns
    ):
        return []
    return [(jf.pipeline, "pipeline environment does not set REGISTRY")]


def stage_order_rule(jf: Jenkinsfile) -> list[Finding]:
    """Checkout, install, lint, test, e2e, images, push, staging, smoke, approval, production:
    each step found after the previous one."""

    def make_step(*names: str, **variables: str):
        """A predicate: the call is ``make <one of names>`` with these variables."""
        wanted = [
            step
            for step, call in jf.makes_of(*names)
            if all(call.variables.get(k) == v for k, v in variables.items())
        ]
        return lambda c: any(c is step for step in wanted)

    findings: list[Finding] = []
    line = 0
    for what, predicate in (
        ("checkout", lambda c: c["name"] == "checkout"),
        ("`make install-test`", make_step("install", "install-test")),
        ("`make lint`", make_step("lint")),
        ("`make test` (unit tests)", make_step("test")),
        ("`make e2e`", make_step("e2e")),
        ("`make images`", make_step("images")),
        ("`make push-images`", make_step("push-images")),
        ("`make deploy ENV=staging`", make_step("deploy", ENV="staging")),
        ("`make smoke`", make_step("smoke")),
        ("`input` (approval)", lambda c: c["name"] == "input" and c["receiver"] is None),
        ("`make deploy ENV=production`", make_step("deploy", ENV="production")),
    ):
        found = [c["line"] for c in jf.pipe.calls if predicate(c) and c["line"] > line]
        if found:
            line = min(found)
        else:
            findings.append((None, f"no {what} step" + (f" after line {line}" if line else "")))
    return findings


def unit_test_rule(jf: Jenkinsfile) -> list[Finding]:
    """Every suite has its own `make test SUITES=<suite>` step, inside the `parallel` block."""
    findings: list[Finding] = []
    tested = set()
    for step, call in jf.makes_of("test"):
        suite_names = call.variables.get("SUITES", "").split()
        if len(suite_names) != 1:
            findings.append(
                (step, "each unit-test stage runs one suite: `make test SUITES=<suite>`")
            )
        if not jf.pipe.inside(step, "parallel"):
            findings.append((step, "`make test` runs outside the `parallel` block"))
        tested.update(suite_names)
    missing = [suite for suite in suites() if suite not in tested]
    if missing:
        findings.append((None, f"no unit-test stage for suite(s): {', '.join(missing)}"))
    return findings


def junit_rule(jf: Jenkinsfile) -> list[Finding]:
    """`make test` and `make e2e` keep JUnit reports, which their stage's post publishes."""
    findings: list[Finding] = []
    for step, call in jf.makes_of("test", "e2e"):
        junit_dir = call.variables.get("JUNIT_DIR")
        if not junit_dir:
            findings.append((step, f"`make {call.target}` keeps no JUnit reports (JUNIT_DIR=...)"))
        elif not _publishes_junit(jf.pipe, step, junit_dir):
            findings.append(
                (step, f"its stage has no `post {{ always {{ junit '{junit_dir}/...' }} }}`")
            )
    return findings


def _publishes_junit(pipe: Pipeline, step: dict, junit_dir: str) -> bool:
    stages = pipe.stages(step)
    if not stages:
        return False
    reports = [
        junit
        for post in pipe.children(stages[-1], "post")
        for always in pipe.children(post, "always")
        for junit in pipe.children(always, "junit")
    ]
    return any(
        (j["strings"] or [j["named"].get("testResults", "")])[0].startswith(junit_dir)
        for j in reports
    )


def deploy_rule(jf: Jenkinsfile) -> list[Finding]:
    """`make deploy`/`make rollback` name their environment and run with a kubeconfig."""
    pipe = jf.pipe
    findings: list[Finding] = []
    for step, call in jf.makes_of("deploy", "rollback"):
        if call.variables.get("ENV") not in ("staging", "production"):
            findings.append((step, f"`make {call.target}` names no ENV=staging|production"))
        if not any(
            binding["named"].get("variable") == "KUBECONFIG"
            for parent in pipe.parents(step)
            if parent["name"] == "withCredentials"
            for binding in pipe.children(parent)
        ):
            findings.append((step, f"`make {call.target}` runs without a KUBECONFIG credential"))
    return findings


def release_rule(jf: Jenkinsfile) -> list[Finding]:
    """Images pushed with registry credentials; pushes and deploys on ``main`` only; the smoke
    test names its URL."""
    pipe = jf.pipe
    findings: list[Finding] = []
    for step, call in jf.makes:
        if call.target == "push-images" and not any(
            parent["name"] in ("withRegistry", "withDockerRegistry", "withCredentials")
            for parent in pipe.parents(step)
        ):
            findings.append((step, "`make push-images` runs without registry credentials"))
        if call.target in ("push-images", "deploy") and not pipe.on_main_only(step):
            findings.append(
                (step, f"`make {call.target}` runs on every branch: add when {{ branch 'main' }}")
            )
        if call.target == "smoke" and not call.variables.get("SMOKE_URL"):
            findings.append((step, "`make smoke` names no SMOKE_URL"))
    return findings


#: The Jenkins credential ``make release-tag`` pushes with (the Jenkinsfile's header).
GIT_CREDENTIAL = "platform-git"


def release_tag_rule(jf: Jenkinsfile) -> list[Finding]:
    """`make release-tag` (it pushes a tag and a commit) runs on ``main`` only, with the git
    credential bound for its push."""
    pipe = jf.pipe
    findings: list[Finding] = []
    for step, _ in jf.makes_of("release-tag"):
        if not pipe.on_main_only(step):
            findings.append(
                (step, "`make release-tag` runs on every branch: add when { branch 'main' }")
            )
        if not any(
            binding["named"].get("credentialsId") == GIT_CREDENTIAL
            for parent in pipe.parents(step)
            if parent["name"] == "withCredentials"
            for binding in pipe.children(parent)
        ):
            findings.append(
                (step, f"`make release-tag` pushes without the {GIT_CREDENTIAL!r} credential")
            )
    return findings


def approval_rule(jf: Jenkinsfile) -> list[Finding]:
    return [
        (approval, "the approval is asked on every branch: add when { branch 'main' }")
        for approval in jf.pipe.named("input")
        if jf.pipe.stages(approval) and not jf.pipe.on_main_only(approval)
    ]


def archive_rule(jf: Jenkinsfile) -> list[Finding]:
    if any(
        jf.pipe.inside(c, "post", "always")
        and "reports/" in ((c["strings"] or [c["named"].get("artifacts", "")])[0])
        for c in jf.pipe.named("archiveArtifacts")
    ):
        return []
    return [(None, "no `post { always { archiveArtifacts 'reports/**' } }`")]


def notify_rule(jf: Jenkinsfile) -> list[Finding]:
    """The pipeline's post tells someone on failure and on success (directly or through a
    function the Jenkinsfile defines)."""
    pipe = jf.pipe
    posts = pipe.children(jf.pipeline, "post")
    findings: list[Finding] = []
    for outcome in ("failure", "success"):
        blocks = [block for post in posts for block in pipe.children(post, outcome)]
        told = any(
            c["name"] in NOTIFIERS
            for block in blocks
            for c in pipe.reached([x for x in pipe.calls if block["id"] in x["parents"]])
        )
        if not told:
            findings.append(
                (jf.pipeline, f"the pipeline's post {{ {outcome} {{ }} }} notifies no one")
            )
    return findings


#: The Jenkinsfile's rules, in the order their findings are reported.
JENKINSFILE_RULES = (
    agent_rule,
    options_rule,
    environment_rule,
    stage_order_rule,
    unit_test_rule,
    junit_rule,
    deploy_rule,
    release_rule,
    release_tag_rule,
    approval_rule,
    archive_rule,
    notify_rule,
)


# -- GitHub workflows ------------------------------------------------------------------------------


def schema_problems(files: list[Path]) -> list[str]:
    """GitHub's workflow schema (the copy check-jsonschema ships) over every workflow file."""
    result = subprocess.run(  # noqa: S603 - argv built here from a found binary and fixed arguments
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            "-o",
            "json",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        return [f"workflows: check-jsonschema failed: {tail[0]} (pip install check-jsonschema)"]
    problems = [
        f"{Path(e['filename']).name}: does not parse as YAML: {e['message']}"
        for e in report.get("parse_errors", [])
    ]
    for error in report.get("errors", []):
        best = error.get("best_deep_match") or error.get("best_match") or error
        problems.append(f"{Path(error['filename']).name}: {best['path']}: {best['message']}")
    if result.returncode and not problems:
        problems.append(f"workflows: check-jsonschema failed ({result.returncode})")
    return problems


def check_workflows(folder: Path, targets: set[str]) -> list[str]:
    files = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    if not files:
        return [f"{folder.name}: no GitHub workflow"]
    workflows, problems = {}, []
    for path in files:
        try:
            workflows[path] = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            problems.append(f"{path.name}: does not parse as YAML: {' '.join(str(exc).split())}")
    problems += schema_problems(list(workflows))
    if problems:
        return problems
    tests = 0
    for path, workflow in workflows.items():
        jobs = workflow.get("jobs") or {}
        problems += [f"{path.name}: {problem}" for problem in release_findings(workflow)]
        for job_name, job in jobs.items():
            job_problems, runs_tests = job_findings(job, targets, jobs)
            problems += [f"{path.name}: jobs.{job_name}: {problem}" for problem in job_problems]
            tests += runs_tests
    if not tests:
        problems.append(f"{folder.name}: no workflow job runs `make test`")
    return problems


#: A matrix made by an earlier job: ``${{ fromJSON(needs.<job>.outputs.<name>) }}``.
FROM_JOB = re.compile(r"^\$\{\{\s*fromJSON\(\s*needs\.([\w-]+)\.outputs\.([\w-]+)\s*\)\s*\}\}$")


def make_calls(job: dict) -> list[MakeCall]:
    """The ``make`` calls of a job's run steps (those that parse)."""
    calls = []
    for step in job.get("steps") or []:
        for command in str(step.get("run", "")).strip().splitlines():
            parsed = parse_make(GITHUB_EXPRESSION.sub("EXPRESSION", command.strip()))
            if isinstance(parsed, MakeCall):
                calls.append(parsed)
    return calls


def matrix_findings(job: dict, jobs: dict) -> list[str]:
    """A job that runs the suites as a matrix (`SUITES=${{ matrix.suite }}`) lists each suite
    `make test` knows, and nothing else; or takes them from a job it needs that runs `make
    affected` (its ``suites`` output: the affected ones)."""
    listed = ((job.get("strategy") or {}).get("matrix") or {}).get("suite")
    if listed is None:
        return []
    if isinstance(listed, str):
        match = FROM_JOB.match(listed.strip())
        if not match:
            return [f"the suite matrix {listed!r} is neither a list nor a job's output"]
        producer, output = match.groups()
        needs = job.get("needs") or []
        if producer not in ([needs] if isinstance(needs, str) else needs):
            return [f"the suite matrix reads needs.{producer}, which the job does not need"]
        source = jobs.get(producer) or {}
        if output != "suites" or "affected" not in [c.target for c in make_calls(source)]:
            return [f"the suite matrix reads {producer}.{output}, not `make affected`'s suites"]
        return []
    known = suites()
    problems = [f"the suite matrix misses {suite}" for suite in known if suite not in listed]
    problems += [f"the suite matrix names an unknown suite {s}" for s in listed if s not in known]
    return problems


def release_findings(workflow: dict) -> list[str]:
    """The job that runs `make release-tag` (it pushes a tag and a commit) alone may write the
    repository's contents, and its checkout keeps the token for git."""
    problems = []
    top = workflow.get("permissions")
    if top == "write-all" or (isinstance(top, dict) and top.get("contents") == "write"):
        problems.append("permissions: the workflow lets every job write contents")
    for name, job in (workflow.get("jobs") or {}).items():
        permissions = job.get("permissions")
        writes = permissions == "write-all" or (
            isinstance(permissions, dict) and permissions.get("contents") == "write"
        )
        tags = "release-tag" in [call.target for call in make_calls(job)]
        if tags and not writes:
            problems.append(f"jobs.{name}: `make release-tag` without permissions: contents: write")
        elif writes and not tags:
            problems.append(f"jobs.{name}: may write contents but cuts no release")
        if tags and any(
            str((step.get("with") or {}).get("persist-credentials", "")).lower() == "false"
            for step in job.get("steps") or []
        ):
            problems.append(
                f"jobs.{name}: the checkout drops the token `make release-tag` pushes with"
            )
    return problems


def job_findings(job: dict, targets: set[str], jobs: dict | None = None) -> tuple[list[str], bool]:
    """A workflow job's problems (its run steps are `make` calls of existing targets; a job that
    tests has the backing services), and whether it runs tests."""
    problems, called = [], []
    for step in job.get("steps") or []:
        for command in step.get("run", "").strip().splitlines():
            parsed = parse_make(GITHUB_EXPRESSION.sub("EXPRESSION", command.strip()))
            if isinstance(parsed, str):
                problems.append(f"run step {parsed}")
            elif parsed.target not in targets:
                problems.append(
                    f"run step calls `make {parsed.target}`: no such target in the Makefile"
                )
            else:
                called.append(parsed.target)
    if not any(target in ("test", "e2e") for target in called):
        return problems, False
    problems += matrix_findings(job, jobs or {})
    images = [str(service.get("image", "")) for service in (job.get("services") or {}).values()]
    problems += [
        f"runs tests without a {backing} service"
        for backing in BACKING
        if not any(backing in image for image in images)
    ]
    return problems, True
