"""Results as JSON, as a plain-text table and as Markdown, and the issue's targets."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compare import STEPS, Comparison
from scaling import Scaling
from tools import DVC, FASTPIPE

STEP_LABELS = {
    "help": "`--help`",
    "cold": "cold run",
    "noop": "no-op run",
    "status": "status",
    "code_edit": "code edit (mid stage)",
    "param_edit": "param edit (mid stage)",
}


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    value: str
    met: bool


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def ratio(comparison: Comparison, step: str) -> float | None:
    results = comparison.results
    if FASTPIPE not in results or DVC not in results:
        return None
    return results[DVC][step].stats.median / results[FASTPIPE][step].stats.median


# --- JSON ----------------------------------------------------------------------------------


def comparison_json(c: Comparison) -> dict[str, Any]:
    s = c.settings
    return {
        "config": {
            "stages": s.stages,
            "shape": s.shape,
            "seed": s.seed,
            "weight": s.weight,
            "reps": s.reps,
            "jobs": s.jobs,
            "params_every": s.params_every,
        },
        "edited_stage": c.mid,
        "expected_reruns_after_edit": c.expected_reruns,
        "bodies_s": c.bodies.as_dict(),
        "outputs_identical": True,  # compare() raises OutputMismatchError otherwise
        "results": {
            tool: {
                step: {
                    **r.stats.as_dict(),
                    "cpu_s": list(r.cpu.samples),
                    "load1_at_start": list(r.loads),
                    "stages_run": r.stages_run,
                    "peak_rss_kib": r.peak_rss_kib,
                }
                for step, r in steps.items()
            }
            for tool, steps in c.results.items()
        },
        "ratio_dvc_over_fastpipe": {step: ratio(c, step) for step in STEPS},
    }


def scaling_json(sc: Scaling) -> dict[str, Any]:
    return {
        "config": {"shape": sc.shape, "seed": sc.seed, "reps": sc.reps, "jobs": sc.jobs},
        "sizes": [
            {
                "stages": r.stages,
                "seconds": {step: st.as_dict() for step, st in r.seconds.items()},
                "cpu_s": {step: list(st.samples) for step, st in r.cpu.items()},
                "load1_at_start": {step: list(v) for step, v in r.loads.items()},
                "peak_rss_kib_fastpipe_process": dict(r.main_rss_kib),
                "peak_rss_kib_process_tree": dict(r.tree_rss_kib),
                "bodies_s": r.bodies.as_dict(),
                "overhead_ms_per_stage": r.overhead_ms,
            }
            for r in sc.sizes
        ],
    }


# --- targets -------------------------------------------------------------------------------


def targets(c: Comparison | None, sc: Scaling | None) -> list[Target]:
    found: list[Target] = []
    if c is not None:
        for step, goal in (("cold", 30), ("code_edit", 20), ("noop", 10), ("status", 10)):
            r = ratio(c, step)
            if r is not None:
                label = f"{STEP_LABELS[step]}: DVC / fastpipe"
                found.append(Target(label, f">= {goal}x", f"{r:.1f}x", r >= goal))
        if FASTPIPE in c.results:
            help_s = c.results[FASTPIPE]["help"].stats.median
            found.append(Target("`fastpipe --help`", "< 0.15 s", fmt_s(help_s), help_s < 0.15))
    if sc is not None:
        by_size = {r.stages: r for r in sc.sizes}
        if 1000 in by_size and 10000 in by_size:
            grow = by_size[10000].seconds["status"].median / by_size[1000].seconds["status"].median
            found.append(
                Target("status 10,000 / 1,000 stages", "<= 12x", f"{grow:.1f}x", grow <= 12)
            )
        if 1000 in by_size:
            over = by_size[1000].overhead_ms
            found.append(
                Target(
                    "overhead per stage, 1,000-stage cold run",
                    "<= 3 ms",
                    f"{over:.2f} ms",
                    over <= 3,
                )
            )
    return found


# --- tables --------------------------------------------------------------------------------


def comparison_rows(c: Comparison) -> list[list[str]]:
    rows: list[list[str]] = []
    for step in STEPS:
        r = ratio(c, step)
        for tool, steps in c.results.items():
            res = steps[step]
            st = res.stats
            rows.append(
                [
                    STEP_LABELS[step],
                    tool,
                    fmt_s(st.median),
                    fmt_s(st.min),
                    fmt_s(st.max),
                    "" if res.stages_run is None else str(res.stages_run),
                    f"{r:.1f}x" if r is not None and tool == DVC else "",
                ]
            )
    return rows


COMPARISON_HEADER = ["step", "tool", "median", "min", "max", "stages run", "DVC / fastpipe"]
SCALING_HEADER = [
    "stages",
    "step",
    "median",
    "min",
    "max",
    "per stage",
    "peak RSS fastpipe",
    "peak RSS tree",
]


def scaling_rows(sc: Scaling) -> list[list[str]]:
    rows: list[list[str]] = []
    for r in sc.sizes:
        for step, st in r.seconds.items():
            rows.append(
                [
                    f"{r.stages:,}",
                    STEP_LABELS[step],
                    fmt_s(st.median),
                    fmt_s(st.min),
                    fmt_s(st.max),
                    f"{st.median / r.stages * 1000:.2f} ms",
                    f"{r.main_rss_kib[step] / 1024:.0f} MiB",
                    f"{r.tree_rss_kib[step] / 1024:.0f} MiB",
                ]
            )
    return rows


def table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    return "\n".join(
        "  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)) for row in [header, *rows]
    )


def _params_note(every: int) -> str:
    if every == 1:
        return "params on every stage"
    if every == 0:
        return "params on the edited stage only"
    return f"params on every {every}th stage and the edited one"


def render(info: dict[str, Any], c: Comparison | None, sc: Scaling | None, markdown: bool) -> str:
    """Every table of this run, with the machine it ran on."""
    out = [f"Machine: {', '.join(f'{k} {v}' for k, v in info.items() if v is not None)}", ""]
    if c is not None:
        s = c.settings
        out += [
            f"Comparison: {s.stages} stages, {s.shape} (seed {s.seed}), weight {s.weight}, "
            f"-j {s.jobs}, {s.reps} repetition(s), {_params_note(s.params_every)}; outputs "
            f"byte-identical. Edits change stage "
            f"{c.mid}, which re-runs {c.expected_reruns} stages. Stage bodies alone (sum, one "
            f"process): {fmt_s(c.bodies.median)}.",
            "",
            table(COMPARISON_HEADER, comparison_rows(c), markdown),
            "",
        ]
    if sc is not None:
        out += [
            f"Scaling: fastpipe alone, trivial stages, {sc.shape}, -j {sc.jobs}, {sc.reps} rep(s).",
            "",
            table(SCALING_HEADER, scaling_rows(sc), markdown),
            "",
        ]
        out += [
            f"Overhead at {r.stages:,} stages: ({fmt_s(r.seconds['cold'].median)} cold - "
            f"{fmt_s(r.bodies.median)} bodies) / {r.stages:,} = {r.overhead_ms:.2f} ms/stage"
            for r in sc.sizes
        ]
        out.append("")
    found = targets(c, sc)
    if found:
        rows = [[t.name, t.goal, t.value, "yes" if t.met else "NO"] for t in found]
        out += [table(["target", "goal", "measured", "met"], rows, markdown), ""]
    return "\n".join(out)


def write_json(path: Path, info: dict[str, Any], c: Comparison | None, sc: Scaling | None) -> None:
    data: dict[str, Any] = {"machine": info, "argv": sys.argv[1:]}
    if c is not None:
        data["comparison"] = comparison_json(c)
    if sc is not None:
        data["scaling"] = scaling_json(sc)
    data["targets"] = [t.__dict__ for t in targets(c, sc)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
