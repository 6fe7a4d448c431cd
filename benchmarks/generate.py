"""Write the same pipeline twice: a fastpipe project and a DVC project (git + dvc init).

Both projects share params.yaml (top-level key = stage name, `seed` and `scale` per stage) and
the stage bodies of bodies.py. Edits are applied by rewriting the file with one stage changed,
exactly the bytes an editor would leave.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml
from bodies import IMPORTS, function_source, output_path
from dag import Dag

EDITED_SCALE = 1.5  # what a param edit sets `scale` to (it is 1.0 otherwise)
AT_REST_S = 600  # generated files are dated this far back (see settle)


@dataclass(frozen=True)
class Spec:
    """One version of the generated pipeline: its graph, weight, and which stage is edited."""

    dag: Dag
    weight: str
    code_edit: str | None = None  # stage whose body sets offset = EDITED_OFFSET
    param_edit: str | None = None  # stage whose params.yaml scale is EDITED_SCALE
    with_params: frozenset[str] | None = None  # stages that have params (None: all)

    @cached_property
    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.dag.names)}

    def has_params(self, name: str) -> bool:
        return self.with_params is None or name in self.with_params

    def inputs(self, name: str) -> list[str]:
        return [output_path(self.weight, up) for up in self.dag.upstream[name]]

    def function(self, name: str) -> str:
        return function_source(
            self.weight,
            name,
            self.index[name],
            self.inputs(name),
            edited=name == self.code_edit,
            params=self.has_params(name),
        )


def params_text(spec: Spec) -> str:
    params = {
        name: {"seed": i, "scale": EDITED_SCALE if name == spec.param_edit else 1.0}
        for i, name in enumerate(spec.dag.names)
        if spec.has_params(name)
    }
    return yaml.safe_dump(params, sort_keys=True)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def _write_common(root: Path, spec: Spec) -> None:
    (root / "data").mkdir(parents=True, exist_ok=True)
    _write(root / "params.yaml", params_text(spec))


# --- fastpipe ------------------------------------------------------------------------------


def pipeline_text(spec: Spec) -> str:
    """pipeline.py: one `@stage` function per stage, bodies from bodies.py."""
    parts = [
        f'"""Generated benchmark pipeline: {len(spec.dag.names)} stages, {spec.dag.shape}, '
        f'{spec.weight}."""\n\n'
        + "\n".join(IMPORTS[spec.weight])
        + "\n\nfrom fastpipe import stage\n"
    ]
    for name in spec.dag.names:
        out = output_path(spec.weight, name)
        deps = f"deps={spec.inputs(name)!r}, " if spec.dag.upstream[name] else ""
        parts.append(f"\n@stage({deps}outs=[{out!r}])\n{spec.function(name)}")
    return "\n".join(parts)


def write_fastpipe(root: Path, spec: Spec) -> None:
    _write_common(root, spec)
    _write(root / "pipeline.py", pipeline_text(spec))


# --- DVC -----------------------------------------------------------------------------------


def script_text(spec: Spec, name: str) -> str:
    """stages/NAME.py: the body function, and a __main__ that calls it with its params.yaml
    entry (read with a two-line yaml loader, as DVC users do)."""
    lines = list(IMPORTS[spec.weight])
    call = f"    {name}()\n"
    if spec.has_params(name):
        lines += ["import yaml", "from pathlib import Path"]
        call = (
            '    params = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))\n'
            f"    {name}(**params[{name!r}])\n"
        )
    imports = sorted(dict.fromkeys(lines), key=lambda line: (line.startswith("from"), line))
    return (
        f'"""Stage {name} of the generated benchmark pipeline (`dvc repro` runs it)."""\n\n'
        + "\n".join(imports)
        + f"\n\n\n{spec.function(name)}\n\n"
        + 'if __name__ == "__main__":\n'
        + call
    )


def dvc_yaml_text(spec: Spec) -> str:
    stages: dict[str, object] = {}
    for name in spec.dag.names:
        script = f"stages/{name}.py"
        stage: dict[str, object] = {"cmd": f"python {script}", "deps": [script, *spec.inputs(name)]}
        if spec.has_params(name):
            stage["params"] = [f"{name}.seed", f"{name}.scale"]
        stage["outs"] = [output_path(spec.weight, name)]
        stages[name] = stage
    return yaml.safe_dump({"stages": stages}, sort_keys=False)


def write_dvc(root: Path, spec: Spec) -> None:
    _write_common(root, spec)
    for name in spec.dag.names:
        _write(root / "stages" / f"{name}.py", script_text(spec, name))
    _write(root / "dvc.yaml", dvc_yaml_text(spec))


def init_dvc(root: Path, dvc: str, env: Mapping[str, str]) -> None:
    """`git init` + `dvc init` + no analytics or update checks, as a DVC user sets up."""
    commands = [
        ["git", "init", "-q"],
        [dvc, "init", "-q"],
        [dvc, "config", "core.analytics", "false"],
        [dvc, "config", "core.check_update", "false"],
    ]
    for command in commands:
        done = subprocess.run(command, cwd=root, env=dict(env), capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed in {root}:\n{done.stderr}")


def settle(root: Path) -> None:
    """Date every file under `root` AT_REST_S back, as in a project at rest.

    A file written a moment before a command is one an editor may still be writing: fastpipe
    does not trust its no-op snapshot for sources younger than ~2 s, so without this the first
    repetition's no-op run would measure that guard instead of the usual case.
    """
    then = time.time() - AT_REST_S
    for directory, _, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(directory, name), (then, then))


# --- edits ---------------------------------------------------------------------------------


def apply_code_edit(root: Path, tool: str, spec: Spec) -> None:
    """Rewrite the one file holding `spec.code_edit`'s body in `tool`'s project at `root`."""
    assert spec.code_edit is not None
    if tool == "fastpipe":
        _write(root / "pipeline.py", pipeline_text(spec))
    else:
        _write(root / "stages" / f"{spec.code_edit}.py", script_text(spec, spec.code_edit))


def apply_param_edit(root: Path, spec: Spec) -> None:
    """Rewrite params.yaml (the same file in both projects) with `spec.param_edit`'s scale."""
    _write(root / "params.yaml", params_text(spec))


def digest_outputs(root: Path) -> dict[str, str]:
    """data/ file -> sha256, to check both tools wrote byte-identical outputs."""
    data = root / "data"
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(data.iterdir())
        if path.is_file() and path.name != ".gitignore"
    }


def output_mtimes(root: Path) -> dict[str, int]:
    """data/ file -> mtime (ns), to count the outputs a run rewrote."""
    with os.scandir(root / "data") as entries:
        return {e.name: e.stat().st_mtime_ns for e in entries if e.name != ".gitignore"}
