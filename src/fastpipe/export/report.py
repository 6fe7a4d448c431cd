"""Text for humans: what `export` wrote, the `--validate` table, the `import-dvc` plan."""

from __future__ import annotations

import posixpath

from fastpipe.export.adopt import Adoption, ImportReport
from fastpipe.export.dvcfiles import LOCK_FILE
from fastpipe.export.dvcyaml import ExportResult
from fastpipe.export.validate import ValidationReport

HASH_SHOWN = 16  # hex digits of a hash in the table: plenty to tell files apart


def exported(result: ExportResult) -> str:
    """`wrote dvc.yaml and params.defaults.yaml (5 stages)`; a matrix stage is one DVC stage:
    `(2 stages, 6 with their matrix variants)`."""
    variants = len(result.plan.stages)
    count = len({name.split("@", 1)[0] for name in result.plan.stages})
    files = " and ".join(result.written)
    shown = f"{count} stage{'s' if count != 1 else ''}"
    if variants != count:
        shown += f", {variants} with their matrix variants"
    line = f"wrote {files} ({shown})"
    if result.plan.kept:
        sections = ", ".join(f"{key}:" for key in result.plan.kept)
        line += f"; kept the {sections} of the {result.plan.dvc_yaml} it replaced"
    return line


def validation_table(report: ValidationReport) -> str:
    """One row per output (stage, path, both hashes, same/different), then a verdict."""
    header = ("stage", "path", "fastpipe hash", "dvc hash", "result")
    rows = [
        (row.stage, row.path, _short(row.fastpipe), _short(row.dvc), _verdict(row.same))
        for row in report.rows
    ]
    widths = [max(len(line[i]) for line in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in (header, *rows)
    ]
    return "\n".join([*lines, *_summary(report)])


def _short(digest: str | None) -> str:
    return digest[:HASH_SHOWN] if digest else "missing"


def _verdict(same: bool) -> str:
    return "same" if same else "DIFFERENT"


def _summary(report: ValidationReport) -> list[str]:
    failed = [run.command for run in report.runs if not run.ok]
    differing = [row.path for row in report.rows if not row.same]
    lines: list[str] = []
    if failed:
        lines.append(f"failed: {', '.join(failed)} (its output is on stderr)")
    if differing:
        lines.append(
            f"{len(differing)} of {len(report.rows)} outputs differ: {', '.join(differing)}"
        )
    lines.extend(
        f"stage '{name}' produced different outputs from identical deps: it is "
        "nondeterministic, or reads something it does not declare"
        for name in report.divergent
    )
    if not lines:
        lines.append(f"all {len(report.rows)} outputs identical: dvc repro reproduces fastpipe run")
    return lines


def import_plan(report: ImportReport, *, dry_run: bool) -> str:
    """One line per stage (adopted, already fresh, or left stale with its reasons)."""
    if not report.stages:
        return "no stages"
    width = max(len(s.name) for s in report.stages)
    lines = []
    for stage in report.stages:
        line = f"{stage.name:<{width}}  {stage.adoption.value}"
        if stage.reasons:
            line += ": " + "; ".join(stage.reasons)
        lines.append(line)
    taken = (Adoption.WOULD_ADOPT,) if dry_run else (Adoption.ADOPTED,)
    count = sum(s.adoption in taken for s in report.stages)
    verb = "would adopt" if dry_run else "adopted"
    note = " (dry run: no lock written)" if dry_run else ""
    lock = posixpath.join(posixpath.dirname(report.dvc_yaml), LOCK_FILE)
    lines.append(f"{verb} {count} of {len(report.stages)} stages from {lock}{note}")
    return "\n".join(lines)
