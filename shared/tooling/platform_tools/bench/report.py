"""The report: ``bench.md`` (Markdown tables), ``bench.json`` (raw numbers), a PNG per benchmark."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .loadgen import LoadGenerator
    from .runner import Result, Row


@dataclass
class Baseline:
    """A baseline's run: its ref, its commit and its ``bench.json``."""

    ref: str
    commit: str
    raw: dict[str, Any]
    error: str | None = None

    @property
    def label(self) -> str:
        ref = self.commit[:10] if self.ref == self.commit else self.ref
        return f"{ref} ({self.commit[:10]})"

    def benchmark(self, slug: str) -> dict[str, Any] | None:
        return next((b for b in self.raw.get("benchmarks", []) if b["slug"] == slug), None)


def machine_info(
    *,
    profile: str,
    load: LoadGenerator,
    load_note: str,
    duration: float,
    warmup: float,
    load_at_start: str,
) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "django": _version("django"),
        "granian": _version("granian"),
        "gunicorn": _version("gunicorn"),
        "profile": profile,
        "load generator": f"{load.version} ({load_note})",
        "runs": f"{warmup:g} s warm-up at c=8, then {duration:g} s at c=1 and at c=8",
        "load average at start (1, 5, 15 min)": load_at_start,
        "load average at end": ", ".join(f"{v:.2f}" for v in os.getloadavg()),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return str(value).replace("|", "\\|")


def table(rows: list[Row]) -> str:
    if not rows:
        return "_no rows_"
    headers = list(dict.fromkeys(key for row in rows for key in row))
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
    ]
    lines += ["| " + " | ".join(cell(row.get(h)) for h in headers) + " |" for row in rows]
    return "\n".join(lines)


def write(
    results: list[Result], machine: dict[str, Any], folder: Path, base: Baseline | None = None
) -> str:
    """Write bench.md, bench.json and the plots into ``folder``; return the Markdown."""
    folder.mkdir(parents=True, exist_ok=True)
    if base is not None:
        machine = {
            **machine,
            "baseline": base.label + (f": failed, {base.error}" if base.error else ""),
        }
    parts = ["# Benchmarks", "", "| machine | |", "| --- | --- |"]
    parts += [f"| {key} | {cell(value)} |" for key, value in machine.items()]
    for result in results:
        bench = result.benchmark
        parts += ["", f"## {bench.name}", ""]
        if result.error:
            parts += [f"**Failed:** {result.error}", ""]
        parts.append(table(result.rows))
        if result.rows and bench.plot:
            png = folder / f"bench_{bench.slug}.png"
            bench.plot(result.rows, png)
            parts += ["", f"![{bench.name}]({png.name})"]
        if result.notes:
            parts += ["", *(f"- {note}" for note in result.notes)]
        for title, rows in result.sections:
            parts += ["", f"**{title}**", "", table(rows)]
        if base is not None:
            parts += _baseline_parts(base, bench.slug, result.rows)
        parts += ["", f"_took {result.seconds:.0f} s_"]
    markdown = "\n".join(parts).rstrip() + "\n"
    (folder / "bench.md").write_text(markdown)
    raw = {
        "machine": machine,
        "argv": ["python -m platform_tools.bench", *sys.argv[1:]],  # no path of the machine
        "benchmarks": [
            {
                "name": r.benchmark.name,
                "slug": r.benchmark.slug,
                "seconds": round(r.seconds, 1),
                "error": r.error,
                "notes": r.notes,
                "sections": [
                    {
                        "title": title,
                        "rows": [{k: _json_value(v) for k, v in row.items()} for row in rows],
                    }
                    for title, rows in r.sections
                ],
                "rows": [{k: _json_value(v) for k, v in row.items()} for row in r.rows],
            }
            for r in results
        ],
    }
    if base is not None:
        raw["baseline"] = {"ref": base.ref, "commit": base.commit, "error": base.error, **base.raw}
    text = json.dumps(raw, indent=2, default=str, allow_nan=False)
    (folder / "bench.json").write_text(text + "\n")
    return markdown


def _baseline_parts(base: Baseline, slug: str, rows: list[Row]) -> list[str]:
    from .baseline import ratios

    old = base.benchmark(slug)
    if old is None:
        return ["", f"_Baseline {base.label}: not measured._"]
    old_rows = [{k: math.nan if v is None else v for k, v in r.items()} for r in old["rows"]]
    parts = ["", f"### Baseline {base.label}", ""]
    if old.get("error"):
        parts += [f"**Failed:** {old['error']}", ""]
    parts.append(table(old_rows))
    for section in old.get("sections", []):
        parts += ["", f"**{section['title']}** (baseline)", "", table(section["rows"])]
    paired = ratios(rows, old_rows)
    if paired:
        parts += ["", f"**This checkout / {base.label}** (ratios; < 1 is less of it)", ""]
        parts.append(table(paired))
    return parts


def _json_value(value: Any) -> Any:
    """NaN (not measured) is not JSON: it becomes null."""
    return None if isinstance(value, float) and math.isnan(value) else value


def bars(
    path: Path,
    labels: list[str],
    panels: dict[str, dict[str, list[float]]],
    title: str,
) -> None:
    """Horizontal grouped bars: one panel per metric, one bar per series and label, values shown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height = 1.2 + 0.45 * len(labels) * max(len(series) for series in panels.values())
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), height), squeeze=False)
    for ax, (metric, series) in zip(axes[0], panels.items(), strict=True):
        width = 0.8 / len(series)
        for i, (name, values) in enumerate(series.items()):
            ys = [y + (i - (len(series) - 1) / 2) * width for y in range(len(labels))]
            shown = [0.0 if math.isnan(v) else v for v in values]
            drawn = ax.barh(ys, shown, height=width, label=name)
            texts = [
                "n/a" if math.isnan(v) else (f"{v:.0f}" if v >= 100 else f"{v:.2f}") for v in values
            ]
            ax.bar_label(drawn, texts, padding=3, fontsize=8)
        ax.set_yticks(range(len(labels)), labels)
        ax.invert_yaxis()
        ax.set_title(metric, fontsize=10)
        ax.margins(x=0.2)
        ax.grid(axis="x", alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
