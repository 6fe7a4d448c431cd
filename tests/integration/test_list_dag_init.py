"""Finding the project (-C, subdirectories), --help, init, list and dag."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.project import STAGES, Project, check_status_json, command_env, fastpipe

COMMANDS = ("init", "run", "status", "explain", "list", "dag")
EDGES = {
    ("clean", "featurize"),
    ("featurize", "train"),
    ("train", "summarize"),
    ("report", "summarize"),
}


def test_directory_option_from_elsewhere(project: Project, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = project.run_from(elsewhere, "run", "--force", "report")

    assert result.code == 0, result
    assert project.runs() == ["report"]  # the stage ran in the project root
    assert list(elsewhere.iterdir()) == []


def test_run_from_a_subdirectory_finds_the_root(project: Project) -> None:
    subdirectory = project.path("data")
    before = sorted(p.name for p in subdirectory.iterdir())

    result = fastpipe("status", "--json", cwd=subdirectory)

    assert result.code == 0, result
    stages = check_status_json(result.out)
    assert sorted(stages) == sorted(STAGES)
    assert all(s["status"] == "fresh" for s in stages.values())
    assert sorted(p.name for p in subdirectory.iterdir()) == before


@pytest.mark.parametrize("how", ["python -m fastpipe", "fastpipe"])
def test_help_lists_the_commands(tmp_path: Path, how: str) -> None:
    script = Path(sys.executable).with_name("fastpipe")
    command = [sys.executable, "-m", "fastpipe"] if how != "fastpipe" else [str(script)]

    proc = subprocess.run(
        [*command, "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=command_env(),
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
    for name in COMMANDS:
        assert re.search(rf"^\s+{name}\b", proc.stdout, re.M), (name, proc.stdout)


def test_run_help_lists_its_options(tmp_path: Path) -> None:
    result = fastpipe("run", "--help", cwd=tmp_path)

    assert result.code == 0, result
    options = ["--force", "--dry-run", "--jobs", "--executor", "--keep-going", "--set"]
    for option in [*options, "--downstream"]:
        assert option in result.out, option


def test_init_in_an_empty_directory(tmp_path: Path) -> None:
    result = fastpipe("init", cwd=tmp_path)

    assert result.code == 0, result
    assert (tmp_path / ".fastpipe").is_dir()
    assert (tmp_path / ".fastpipe" / ".gitignore").is_file()
    assert (tmp_path / "pipeline.py").is_file()
    ran = fastpipe("run", cwd=tmp_path)
    assert ran.code == 0, ran
    assert list((tmp_path / ".fastpipe" / "stages").glob("*.lock"))
    if shutil.which("git") is not None:  # the .gitignore keeps stages/ and ignores the rest
        assert _git_ignored(tmp_path) == {"logs/a.log", "cache/a.json"}


def _git_ignored(root: Path) -> set[str]:
    """Which of the .fastpipe entries a fresh git repository at `root` ignores."""
    state = root / ".fastpipe"
    for relpath in ("stages/a.lock", "logs/a.log", "cache/a.json"):
        (state / relpath).parent.mkdir(parents=True, exist_ok=True)
        (state / relpath).write_text("x\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=30)
    ignored: set[str] = set()
    for entry in (".gitignore", "stages/a.lock", "logs/a.log", "cache/a.json"):
        git = ["git", "-C", str(root), "check-ignore", "-q", f".fastpipe/{entry}"]
        if subprocess.run(git, check=False, timeout=30).returncode == 0:
            ignored.add(entry)
    return ignored


def test_init_in_a_non_empty_directory_writes_no_sample_pipeline(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('mine')\n")
    (tmp_path / ".git").mkdir()

    result = fastpipe("init", cwd=tmp_path)

    assert result.code == 0, result
    assert (tmp_path / ".fastpipe").is_dir()
    assert not (tmp_path / "pipeline.py").exists()
    assert result.out.strip().endswith("created .fastpipe/"), result


def test_init_keeps_an_existing_pipeline(project: Project) -> None:
    before = project.read("pipeline.py")

    project.ok("init")

    assert project.read("pipeline.py") == before
    assert sorted(project.locks()) == sorted(f"{name}.lock" for name in STAGES)


def _sections(text: str) -> dict[str, str]:
    """`list` output split at each unindented line, by the first word of that line."""
    sections: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line[:1].strip():
            current = line.split()[0].rstrip(":")
        sections.setdefault(current, []).append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def test_list(project: Project) -> None:
    result = project.ok("list")

    sections = _sections(result.out)
    assert set(STAGES) <= set(sections), result.out
    for shown in ("data/features.txt", "model.txt", "metrics.json", "lr", "0.1", "epochs"):
        assert shown in sections["train"], (shown, result.out)
    assert "threshold" in sections["clean"] and "model.txt" not in sections["clean"]
    assert "report.txt" in sections["summarize"]


def test_list_json(project: Project) -> None:
    project.write("params.yaml", "train:\n  lr: 0.5\n")

    result = project.ok("list", "--json")

    stages = {s["name"]: s for s in json.loads(result.out)["stages"]}
    assert set(stages) == set(STAGES)
    train = stages["train"]
    assert train["deps"] == ["data/features.txt"]
    assert "model.txt" in train["outs"]
    assert "metrics.json" in train["outs"] + train.get("metrics", [])
    assert train["params"] == {"lr": 0.5, "epochs": 2}  # resolved: params.yaml counts
    assert stages["summarize"]["deps"] == ["report.txt", "metrics.json"]


def _edges_ascii(text: str) -> set[tuple[str, str]]:
    edges: set[tuple[str, str]] = set()
    for line in text.splitlines():
        if "<-" in line:
            name, upstream = line.split("<-")
            edges |= {(u.strip(), name.strip()) for u in upstream.split(",")}
    return edges


def _edges_mermaid(text: str) -> set[tuple[str, str]]:
    labels = dict(re.findall(r"(\w+)\[\"?([^\]\"]+)\"?\]", text))
    pairs = re.findall(r"(\w+)(?:\[[^\]]*\])?\s*-->\s*(\w+)", text)
    return {(labels.get(a, a), labels.get(b, b)) for a, b in pairs}


def _edges_dot(text: str) -> set[tuple[str, str]]:
    return set(re.findall(r"\"?([\w@.-]+)\"?\s*->\s*\"?([\w@.-]+)\"?", text))


@pytest.mark.parametrize(
    ("args", "header", "parse"),
    [
        ([], None, _edges_ascii),
        (["--format", "mermaid"], re.compile(r"^(flowchart|graph)\b"), _edges_mermaid),
        (["--format", "dot"], re.compile(r"^(strict )?digraph\b"), _edges_dot),
    ],
    ids=["ascii", "mermaid", "dot"],
)
def test_dag(
    project: Project,
    args: list[str],
    header: re.Pattern[str] | None,
    parse: Callable[[str], set[tuple[str, str]]],
) -> None:
    result = project.ok("dag", *args)

    if header is not None:
        assert header.match(result.out.lstrip()), result.out
    assert parse(result.out) == EDGES, result.out
    for name in STAGES:
        assert name in result.out
