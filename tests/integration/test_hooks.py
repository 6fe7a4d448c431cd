"""`fastpipe install-hooks` with real git: checkout, commit and push in temporary repositories.

The hooks call `fastpipe` from PATH; here PATH starts with a shim that records each call and
runs this interpreter's `python -m fastpipe` (`checkout` belongs to the output cache's issue,
so the shim only records it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.project import ERROR_PREFIX, Project, command_env
from tests.integration.remoteproject import cache_outs

REPO = Path(__file__).resolve().parents[2]
SHIM = """\
#!/bin/sh
echo "$*" >> "{log}"
if [ "$1" = "checkout" ]; then exit 0; fi
exec "{python}" -m fastpipe "$@"
"""


class Repo:
    """A git work tree holding a fastpipe project, with the fastpipe shim first on PATH."""

    def __init__(self, project: Project, tmp_path: Path) -> None:
        self.project = project
        self.root = project.root
        shims = tmp_path / "shims"
        shims.mkdir()
        self.log = tmp_path / "fastpipe-calls.log"
        shim = shims / "fastpipe"
        shim.write_text(SHIM.format(log=self.log, python=sys.executable))
        shim.chmod(0o755)
        self.env = command_env(
            {
                "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
                "GIT_AUTHOR_NAME": "t",
                "GIT_AUTHOR_EMAIL": "t@example.com",
                "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@example.com",
                "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_CONFIG_NOSYSTEM": "1",
            }
        )
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["git", *args], cwd=self.root, capture_output=True, text=True, env=self.env
        )
        assert not check or proc.returncode == 0, proc
        return proc

    def fastpipe(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fastpipe", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            env=self.env,
        )

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def hook(self, name: str) -> Path:
        return self.root / ".git" / "hooks" / name


@pytest.fixture
def repo(new_project: Project, tmp_path: Path) -> Repo:
    return Repo(new_project, tmp_path)


def test_post_checkout_runs_checkout_after_a_branch_checkout_only(repo: Repo) -> None:
    assert repo.fastpipe("install-hooks").returncode == 0
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "one")
    repo.git("checkout", "-q", "-b", "other")
    assert repo.calls() == ["checkout"]
    (repo.root / "helpers.py").write_text("# edited\n")
    repo.git("checkout", "--", "helpers.py")  # a file checkout: hook argument 3 is 0
    assert repo.calls() == ["checkout"]
    repo.git("checkout", "-q", "main")
    assert repo.calls() == ["checkout", "checkout"]


def test_pre_commit_refuses_a_commit_while_stages_are_stale(repo: Repo) -> None:
    installed = repo.fastpipe("install-hooks", "--pre-commit")
    assert "pre-commit: installed" in installed.stdout
    repo.git("add", "-A")
    refused = repo.git("commit", "-q", "-m", "stale", check=False)
    assert refused.returncode != 0
    assert "fastpipe: commit refused: stages are stale" in refused.stderr
    assert "status --check" in repo.calls()
    assert repo.git("rev-list", "--all").stdout == ""  # nothing was committed
    assert repo.fastpipe("run").returncode == 0
    (repo.root / ".gitignore").write_text("/runs.log\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "fresh")
    assert repo.git("rev-list", "--count", "HEAD").stdout.strip() == "1"


def test_pre_push_pushes_the_data(repo: Repo, tmp_path: Path) -> None:
    repo.project.write("pyproject.toml", '[tool.fastpipe.remotes.origin]\nurl = "../data-remote"\n')
    assert repo.fastpipe("run").returncode == 0
    cache_outs(repo.project)
    assert repo.fastpipe("install-hooks", "--pre-push").returncode == 0
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "code.git")], check=True)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "one")
    repo.git("remote", "add", "origin", str(tmp_path / "code.git"))
    repo.git("push", "-q", "origin", "main")
    assert "push" in repo.calls()
    objects = list((tmp_path / "data-remote" / "files" / "xxh3").glob("*/*"))
    assert len(objects) == 5  # the shared pipeline's cached outs


def test_installing_is_idempotent_and_keeps_the_hooks_own_lines(repo: Repo) -> None:
    hook = repo.hook("post-checkout")
    own = '#!/bin/sh\necho "own hook ran" >> own.log\n'
    hook.write_text(own)
    hook.chmod(0o755)
    first = repo.fastpipe("install-hooks")
    assert "post-checkout: added" in first.stdout
    text = hook.read_text()
    assert repo.fastpipe("install-hooks").stdout.startswith("post-checkout: unchanged")
    assert hook.read_text() == text
    assert text.count("# >>> fastpipe") == 1
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "one")
    repo.git("checkout", "-q", "-b", "other")
    assert repo.calls() == ["checkout"]
    assert (repo.root / "own.log").read_text() == "own hook ran\n"
    removed = repo.fastpipe("install-hooks", "--uninstall")
    assert "post-checkout: removed" in removed.stdout
    assert hook.read_text() == own


def test_uninstall_deletes_a_hook_that_only_held_the_block(repo: Repo) -> None:
    repo.fastpipe("install-hooks", "--pre-commit", "--pre-push")
    assert repo.hook("pre-push").is_file()
    repo.fastpipe("install-hooks", "--uninstall")
    assert not any(repo.hook(n).exists() for n in ("post-checkout", "pre-commit", "pre-push"))
    assert repo.fastpipe("install-hooks", "--uninstall").stdout == "no fastpipe hooks to remove\n"


def test_core_hooks_path_is_honoured(repo: Repo) -> None:
    repo.git("config", "core.hooksPath", "githooks")
    out = repo.fastpipe("install-hooks").stdout
    assert f"post-checkout: installed ({repo.root / 'githooks' / 'post-checkout'})" in out
    assert not repo.hook("post-checkout").exists()
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "one")
    repo.git("checkout", "-q", "-b", "other")
    assert repo.calls() == ["checkout"]


def test_a_hook_that_is_not_a_shell_script_is_left_alone_with_advice(repo: Repo) -> None:
    hook = repo.hook("pre-commit")
    own = "#!/usr/bin/env python3\nprint('mine')\n"
    hook.write_text(own)
    result = repo.fastpipe("install-hooks", "--pre-commit")
    assert result.returncode == 0
    assert hook.read_text() == own
    assert result.stderr == (
        f"fastpipe: warning: {hook} is not a POSIX shell script; left alone: make it run "
        "`fastpipe status --check`, refusing the commit (exit 1) when it fails\n"
    )


def test_a_project_below_the_top_of_the_work_tree(tmp_path: Path) -> None:
    top = tmp_path / "top"
    project = Project(top / "ml")
    project.write("pipeline.py", "from fastpipe import stage\n")
    repo = Repo(Project(top), tmp_path)
    assert repo.fastpipe("-C", "ml", "install-hooks").returncode == 0
    assert "fastpipe -C ml checkout" in repo.hook("post-checkout").read_text()


def test_outside_a_git_repository(new_project: Project) -> None:
    result = new_project.run(
        "install-hooks", env={"GIT_CEILING_DIRECTORIES": str(new_project.root.parent)}
    )
    assert result.code == 2
    assert result.err_lines[-1].startswith(ERROR_PREFIX)
    assert "is not in a git repository: run `git init` first" in result.err_lines[-1]


def test_the_pre_commit_framework_hooks_file() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    by_id = {hook["id"]: hook for hook in hooks}
    assert set(by_id) == {"fastpipe-status", "fastpipe-push", "fastpipe-checkout"}
    assert by_id["fastpipe-status"]["entry"] == "fastpipe status --check"
    assert by_id["fastpipe-status"]["stages"] == ["pre-commit"]
    assert by_id["fastpipe-push"]["stages"] == ["pre-push"]
    assert by_id["fastpipe-checkout"]["stages"] == ["post-checkout"]
    for hook in hooks:
        assert hook["language"] == "system" and hook["pass_filenames"] is False
