"""Accessibility in a real browser: axe-core (from npm, pinned, installed once into
``var/tools/axe-core``) run on a page Playwright shows, its serious and critical violations the
ones a test fails on.

    results = audit(page)             # axe.run() on the page as it is now
    problems = blocking(results)      # the serious and critical violations
    assert not problems, describe(problems)
"""

from __future__ import annotations

from functools import cache
from typing import Any

from platform_tools.testing.tools import npm_folder
from service_kit.conf import REPO_ROOT

AXE_CORE = ("axe-core", "4.14.1")
AXE_DIR = REPO_ROOT / "var" / "tools" / "axe-core"
#: the impacts a page may not have (axe's others: minor, moderate)
BLOCKING = ("serious", "critical")


@cache
def axe_source() -> str:
    """``axe.min.js`` of the pinned axe-core, installed with npm when missing or another version."""
    package, version = AXE_CORE
    return (
        npm_folder(AXE_DIR, {package: version}) / "node_modules" / package / "axe.min.js"
    ).read_text()


def audit(page: Any) -> dict:
    """axe-core's results for the page a Playwright ``page`` shows (every rule axe runs by
    default: WCAG 2.x A and AA, and its best practices), its script added to the page (a page
    with a Content-Security-Policy needs a browser context made with ``bypass_csp=True``)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(content=axe_source())
    return page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")


def blocking(results: dict) -> list[dict]:
    """The violations of ``results`` whose impact is serious or critical."""
    return [v for v in results.get("violations", []) if v.get("impact") in BLOCKING]


def describe(violations: list[dict], where: str = "") -> str:
    """One paragraph per violation: the rule, its impact and help, the elements it found and the
    page explaining the fix."""
    lines = []
    for violation in violations:
        lines.append(
            f"{where}{' ' if where else ''}{violation['id']} ({violation['impact']}): "
            f"{violation['help']} - {violation['helpUrl']}"
        )
        for node in violation.get("nodes", []):
            target = " ".join(
                " > ".join(map(str, t)) if isinstance(t, list) else t for t in node["target"]
            )
            lines.append(f"    {target}: {node.get('failureSummary', '').replace(chr(10), ' ')}")
    return "\n".join(lines)
