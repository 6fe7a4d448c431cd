"""Staleness end to end: each kind of change, as `status --json` reports it, as `explain`
details it, and as `run` then acts on it (what re-runs, and what is cut off)."""

from __future__ import annotations

import json
import re

import pytest

from tests.integration.project import HEX128, STAGES, Project, check_reason


def _only(stale: dict[str, dict[str, dict[str, object]]], **kinds: str) -> None:
    """`stale` holds exactly the given stages, each with exactly the given reason kinds."""
    expected = {name: set(spec.split(",")) for name, spec in kinds.items()}
    assert {name: set(reasons) for name, reasons in stale.items()} == expected, stale


# ----------------------------------------------------------------------------------- code


def test_code_edit_in_stage_body(project: Project) -> None:
    project.edit("pipeline.py", "n >= threshold", "n > threshold")

    stale = project.stale()

    _only(stale, clean="code", featurize="upstream", train="upstream", summarize="upstream")
    assert stale["clean"]["code"]["items"] == ["pipeline.clean"]
    assert "pipeline.clean" in stale["clean"]["code"]["detail"]
    project.ok("run")
    assert project.runs() == ["clean", "featurize", "train", "summarize"]


def test_code_edit_in_helper_module(project: Project) -> None:
    """Only the stage that reaches helpers.fit goes stale (and, as upstream, its consumer)."""
    project.edit("helpers.py", "weight = 0.0", "weight = 1.0")

    stale = project.stale()

    _only(stale, train="code", summarize="upstream")
    assert stale["train"]["code"]["items"] == ["helpers.fit"]
    assert stale["summarize"]["upstream"]["items"] == ["train"]
    project.ok("run")
    assert project.runs() == ["train", "summarize"]


def test_module_constant_edit(project: Project) -> None:
    project.edit("pipeline.py", "SCALE = 2", "SCALE = 3")

    stale = project.stale()

    _only(stale, featurize="code", train="upstream", summarize="upstream")
    assert stale["featurize"]["code"]["items"] == ["pipeline.SCALE"]
    project.ok("run")
    assert project.runs() == ["featurize", "train", "summarize"]


# Edits that change no code's meaning: comments, blank lines, docstrings, formatting, quotes,
# and a constant re-spelled to the same value.
COSMETIC_EDITS = [
    ("pipeline.py", '    helpers.record("clean")\n',
     '    helpers.record("clean")  # first\n\n    # read them all\n\n'),
    ("pipeline.py", "SCALE = 2\n", "SCALE = 1 + 1  # the factor\n\n\n"),
    ("pipeline.py", "def featurize() -> None:\n",
     'def featurize() -> None:\n    """Scale every number by SCALE."""\n'),
    ("pipeline.py", 'helpers.record("train")', "helpers.record('train')"),
    ("helpers.py", "def fit(", "# fitting\n\n\ndef fit("),
    ("helpers.py", "    weight = 0.0\n", '    """Fit one weight."""\n    weight = 0.0\n'),
    ("helpers.py", "weight += lr * sum(numbers) / max(len(numbers), 1)",
     "weight += (lr * sum(numbers)) / max(\n            len(numbers),\n            1,\n        )"),
]  # fmt: skip


def test_cosmetic_edits_change_nothing(project: Project) -> None:
    for relpath, old, new in COSMETIC_EDITS:
        project.edit(relpath, old, new)

    assert project.stale() == {}
    result = project.ok("run")
    assert re.search(r"\b0 ran\b", result.out), result.out
    assert project.runs() == []


# ---------------------------------------------------------------------------------- params


def test_param_change_in_params_yaml(project: Project) -> None:
    project.write("params.yaml", "train:\n  lr: 0.5\n")

    stale = project.stale()

    _only(stale, train="params", summarize="upstream")
    reason = stale["train"]["params"]
    assert reason["items"] == ["lr"]
    assert "0.1" in str(reason["detail"]) and "0.5" in str(reason["detail"])
    project.ok("run")
    assert project.runs() == ["train", "summarize"]
    assert project.lock("train")["params"] == {"lr": 0.5, "epochs": 2}


def test_set_override_reruns_and_then_reverts(project: Project) -> None:
    project.ok("run", "--set", "train.epochs=3")
    assert project.runs() == ["train", "summarize"]
    assert project.lock("train")["params"] == {"lr": 0.1, "epochs": 3}
    project.clear_runs()

    project.ok("run")  # without --set the params are back to the defaults: stale again

    # train reruns (its metrics are not cached); summarize's inputs are back to what they
    # were, so the run cache restores its output instead of running it
    assert project.runs() == ["train"]
    assert project.lock("train")["params"] == {"lr": 0.1, "epochs": 2}
    assert project.ok("run", "--no-run-cache", "--force", "summarize").code == 0


def test_set_overrides_params_yaml(project: Project) -> None:
    project.write("params.yaml", "clean:\n  threshold: 5\n")

    project.ok("run", "clean", "--set", "clean.threshold=3")

    assert project.runs() == []  # --set wins: back to the value the lock holds
    assert project.lock("clean")["params"] == {"threshold": 3}


# ------------------------------------------------------------------------------ deps, outs


def test_dep_content_change(project: Project) -> None:
    """A changed dep makes its consumers stale (deps) and everything below them (upstream,
    naming only the direct upstream stages that will run)."""
    project.append("data/raw.txt", "7\n")

    stale = project.stale()

    _only(
        stale,
        clean="deps",
        report="deps",
        featurize="upstream",
        train="upstream",
        summarize="upstream",
    )
    for name in ("clean", "report"):
        assert stale[name]["deps"]["items"] == ["data/raw.txt"]
        assert "data/raw.txt" in str(stale[name]["deps"]["detail"])
    assert stale["featurize"]["upstream"]["items"] == ["clean"]
    assert stale["train"]["upstream"]["items"] == ["featurize"]
    assert stale["summarize"]["upstream"]["items"] == ["report", "train"]
    project.ok("run")
    assert sorted(project.runs()) == sorted(STAGES)


def test_out_deleted(project: Project) -> None:
    project.path("model.txt").unlink()

    stale = project.stale()

    # the cache holds model.txt: train will be restored, not run, so summarize stays fresh
    _only(stale, train="outs")
    assert stale["train"]["outs"]["items"] == ["model.txt"]
    assert project.status()["train"]["action"] == "restore"
    project.ok("run")
    assert project.runs() == []
    assert project.exists("model.txt")


def test_metric_modified(project: Project) -> None:
    """A modified metric makes its producer stale (outs) and its consumer (deps); rerunning
    the producer restores the bytes, so the consumer's deps match its lock again."""
    project.write("metrics.json", '{"weight": 42}\n')

    stale = project.stale()

    _only(stale, train="outs", summarize="deps,upstream")
    assert stale["train"]["outs"]["items"] == ["metrics.json"]
    assert stale["summarize"]["deps"]["items"] == ["metrics.json"]
    project.ok("run")
    assert project.runs() == ["train"]
    assert project.read("metrics.json") != '{"weight": 42}\n'


def test_new_stage_is_never_run(project: Project) -> None:
    project.append(
        "pipeline.py",
        """

        @stage(deps=["summary.txt"], outs=["extra.txt"])
        def extra() -> None:
            helpers.record("extra")
            Path("extra.txt").write_text(Path("summary.txt").read_text().upper())
        """,
    )

    stale = project.stale()

    _only(stale, extra="never_run")
    assert stale["extra"]["never_run"]["items"] == []
    project.ok("run")
    assert project.runs() == ["extra"]


# ------------------------------------------------------------------------- early cutoff


def test_early_cutoff(project: Project) -> None:
    """clean's code changes but its output does not: nothing below it re-runs."""
    project.edit("pipeline.py", "n >= threshold", "threshold <= n")
    below = {k: v for k, v in project.lock_stats().items() if k != "clean.lock"}

    result = project.ok("run")

    assert project.runs() == ["clean"]
    assert re.search(r"\b1 ran\b", result.out), result.out
    assert {k: v for k, v in project.lock_stats().items() if k != "clean.lock"} == below


# -------------------------------------------------------------------------- status --check


@pytest.mark.parametrize(("stale", "code"), [(False, 0), (True, 1)], ids=["fresh", "stale"])
def test_status_check_exit_code(project: Project, stale: bool, code: int) -> None:
    if stale:
        project.path("report.txt").unlink()

    result = project.run("status", "--check", "--json")

    assert result.code == code, result
    assert json.loads(result.out)["stages"]  # --check still prints the status


# -------------------------------------------------------------------------------- explain


def test_explain_names_each_changed_code_item(project: Project) -> None:
    project.edit("helpers.py", "weight = 0.0", "weight = 1.0")
    project.edit("pipeline.py", 'Path("model.txt").write_text(f"{weight}\\n")',
                 'Path("model.txt").write_text(f"{weight:.3f}\\n")')  # fmt: skip

    result = project.ok("explain", "train")

    assert "helpers.fit" in result.out
    assert "pipeline.train" in result.out
    assert "helpers.read_numbers" not in result.out  # unchanged items are not listed


def test_explain_shows_each_param_old_and_new(project: Project) -> None:
    project.write("params.yaml", "train:\n  lr: 0.5\n  epochs: 3\n")

    result = project.ok("explain", "train")

    assert re.search(r"\blr\b.*0\.1.*(->|→).*0\.5", result.out), result.out
    assert re.search(r"\bepochs\b.*2.*(->|→).*3", result.out), result.out


def test_explain_names_each_changed_path(project: Project) -> None:
    project.append("data/features.txt", "99\n")
    project.path("metrics.json").unlink()

    result = project.ok("explain", "train")

    assert "data/features.txt" in result.out
    assert "metrics.json" in result.out
    assert "model.txt" not in result.out


def test_explain_json_params(project: Project) -> None:
    project.write("params.yaml", "train:\n  lr: 0.5\n")

    result = project.ok("explain", "train", "--json")

    data = json.loads(result.out)
    assert set(data) == {"name", "status", "reasons"}
    assert (data["name"], data["status"]) == ("train", "stale")
    [reason] = data["reasons"]
    check_reason(reason, {"kind", "items", "detail", "old", "new"})
    assert reason["kind"] == "params"
    assert reason["items"] == ["lr"]
    assert (reason["old"], reason["new"]) == ({"lr": 0.1}, {"lr": 0.5})


def test_explain_json_code(project: Project) -> None:
    old_hash = project.lock("train")["code"]["helpers.fit"]
    project.edit("helpers.py", "weight = 0.0", "weight = 1.0")

    result = project.ok("explain", "train", "--json")

    data = json.loads(result.out)
    assert set(data) == {"name", "status", "reasons"}
    [reason] = data["reasons"]
    check_reason(reason, {"kind", "items", "detail", "old", "new"})
    assert (reason["kind"], reason["items"]) == ("code", ["helpers.fit"])
    assert reason["old"] == {"helpers.fit": old_hash}
    assert set(reason["new"]) == {"helpers.fit"}
    assert HEX128.match(reason["new"]["helpers.fit"])
    assert reason["new"]["helpers.fit"] != old_hash


# -------------------------------------------------------------------------- malformed lock

MALFORMED = {
    "invalid-yaml": "code: [unclosed\n",
    "not-a-mapping": "- just\n- a list\n",
}


@pytest.mark.parametrize("text", MALFORMED.values(), ids=list(MALFORMED))
def test_malformed_lock_reads_as_never_run(project: Project, text: str) -> None:
    project.path(".fastpipe/stages/featurize.lock").write_text(text)

    result = project.ok("status", "--json")

    stages = json.loads(result.out)["stages"]
    [featurize] = [s for s in stages if s["name"] == "featurize"]
    [reason] = featurize["reasons"]
    assert reason["kind"] == "never_run"
    assert reason["detail"].startswith("lock unreadable:"), reason
    assert any("warning" in line and "featurize" in line for line in result.err_lines), result
    assert {s["name"] for s in stages if s["status"] == "stale"} == {
        "featurize",
        "train",
        "summarize",
    }


def test_run_repairs_a_malformed_lock(project: Project) -> None:
    project.path(".fastpipe/stages/featurize.lock").write_text("code: [unclosed\n")

    result = project.ok("run", "--no-run-cache")  # else the run cache restores it unrun

    assert project.runs() == ["featurize"]  # same output again: train is cut off
    assert "featurize" in result.err  # the warning
    lock = project.lock("featurize")
    assert lock["stage"] == "featurize" and "pipeline.featurize" in lock["code"]
