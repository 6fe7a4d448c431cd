"""`fastpipe install-hooks`: a marked block in the git hooks that keeps data in step with code.

post-checkout runs `fastpipe checkout` after a branch checkout (git passes 1 as the hook's third
argument; a file checkout passes 0); the opt-in pre-commit refuses a commit while
`fastpipe status --check` fails; the opt-in pre-push runs `fastpipe push`.

The block sits between two marker lines right after the shebang, so the hook's own lines keep
running after it; installing again rewrites only the block, `--uninstall` removes only it.
Hooks live where git looks for them (`git rev-parse --git-path hooks`, which honours
core.hooksPath). A hook that is not a POSIX shell script is left alone, with a message saying
what to add to it.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from fastpipe.atomicfile import atomic_write
from fastpipe.errors import ProjectError

BEGIN = "# >>> fastpipe (written by `fastpipe install-hooks`; --uninstall removes it) >>>"
END = "# <<< fastpipe <<<"
SHEBANG = "#!/bin/sh"
_SHELLS = frozenset({"sh", "bash", "dash", "ksh", "zsh", "ash", "busybox"})


class Hook(Enum):
    POST_CHECKOUT = "post-checkout"
    PRE_COMMIT = "pre-commit"
    PRE_PUSH = "pre-push"


class Action(Enum):
    INSTALLED = "installed"  # a new hook file
    ADDED = "added"  # the block added to an existing hook
    UPDATED = "updated"  # the block rewritten
    UNCHANGED = "unchanged"
    REMOVED = "removed"
    SKIPPED = "skipped"  # not a POSIX shell script: left alone


@dataclass(frozen=True)
class HookChange:
    """What install-hooks did to one hook file; `advice` says what to add by hand if skipped."""

    hook: Hook
    path: Path
    action: Action
    advice: str | None = None


# What each hook does, given the fastpipe command to call ("fastpipe" or "fastpipe -C dir").
_WHAT = {
    Hook.POST_CHECKOUT: "`{fp} checkout` when $3 is 1 (a branch checkout)",
    Hook.PRE_COMMIT: "`{fp} status --check`, refusing the commit (exit 1) when it fails",
    Hook.PRE_PUSH: "`{fp} push`, refusing the push (exit 1) when it fails",
}


def block_body(hook: Hook, fastpipe: str) -> str:
    """The shell lines between the markers for `hook`."""
    missing = f'echo "fastpipe: not on PATH; skipping its {hook.value} step" >&2'
    if hook is Hook.POST_CHECKOUT:
        action = (
            'if [ "$3" = "1" ]; then\n'
            f'    {fastpipe} checkout || echo "fastpipe: checkout failed; run it again" >&2\n'
            "  fi"
        )
    elif hook is Hook.PRE_COMMIT:
        action = (
            f"if ! {fastpipe} status --check; then\n"
            '    echo "fastpipe: commit refused: stages are stale (run \\`fastpipe run\\`, '
            'or commit with --no-verify)" >&2\n'
            "    exit 1\n"
            "  fi"
        )
    else:
        action = (
            f"if ! {fastpipe} push; then\n"
            '    echo "fastpipe: push refused: \\`fastpipe push\\` failed" >&2\n'
            "    exit 1\n"
            "  fi"
        )
    return f"if command -v fastpipe >/dev/null 2>&1; then\n  {action}\nelse\n  {missing}\nfi"


def hooks_dir(root: Path) -> tuple[Path, Path]:
    """(the git work tree's top, the folder git runs hooks from) for a project at `root`."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "--git-path", "hooks"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise ProjectError("install-hooks needs git, which is not installed") from None
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) != 2:
        raise ProjectError(f"'{root}' is not in a git repository: run `git init` first")
    top = Path(lines[0])
    hooks = Path(lines[1])
    return top, hooks if hooks.is_absolute() else (root / hooks).resolve()


def fastpipe_command(top: Path, root: Path) -> str:
    """How the hook calls fastpipe: hooks run in the work tree's top, the project may be below."""
    rel = os.path.relpath(root.resolve(), top.resolve())
    return "fastpipe" if rel == "." else f"fastpipe -C {shlex.quote(Path(rel).as_posix())}"


def install(root: Path, hooks: tuple[Hook, ...]) -> list[HookChange]:
    """Write the block into each of `hooks` (creating hook files as needed)."""
    top, folder = hooks_dir(root)
    fastpipe = fastpipe_command(top, root)
    return [_install_one(folder / hook.value, hook, fastpipe) for hook in hooks]


def uninstall(root: Path) -> list[HookChange]:
    """Remove the block from every hook that has it (a hook left empty is deleted)."""
    _, folder = hooks_dir(root)
    changes: list[HookChange] = []
    for hook in Hook:
        path = folder / hook.value
        text = _read(path)
        if text is None or BEGIN not in text:
            continue
        rest = _without_block(text)
        lines = [line for line in rest.splitlines() if line.strip()]
        if not lines or (len(lines) == 1 and lines[0].startswith("#!")):
            path.unlink()  # nothing but the shebang was ours to begin with
        else:
            _write(path, rest)
        changes.append(HookChange(hook, path, Action.REMOVED))
    return changes


def _install_one(path: Path, hook: Hook, fastpipe: str) -> HookChange:
    block = f"{BEGIN}\n{block_body(hook, fastpipe)}\n{END}\n"
    text = _read(path)
    if text is None:
        _write(path, f"{SHEBANG}\n{block}")
        return HookChange(hook, path, Action.INSTALLED)
    if not is_posix_shell(text):
        what = _WHAT[hook].format(fp=fastpipe)
        advice = f"{path} is not a POSIX shell script; left alone: make it run {what}"
        return HookChange(hook, path, Action.SKIPPED, advice)
    if BEGIN in text:
        updated = _replace_block(text, block)
        if updated == text:
            _make_executable(path)
            return HookChange(hook, path, Action.UNCHANGED)
        _write(path, updated)
        return HookChange(hook, path, Action.UPDATED)
    first, _, rest = text.partition("\n")
    _write(path, f"{first}\n{block}{rest}")
    return HookChange(hook, path, Action.ADDED)


def is_posix_shell(text: str) -> bool:
    """Whether a hook's shebang names a shell that runs POSIX sh (sh, bash, dash, zsh, ...)."""
    first = text.split("\n", 1)[0]
    if not first.startswith("#!"):
        return False
    words = first[2:].split()
    if not words:
        return False
    program = os.path.basename(words[0])
    if program == "env":
        names = [w for w in words[1:] if not w.startswith("-")]
        program = os.path.basename(names[0]) if names else ""
    return program in _SHELLS


def _replace_block(text: str, block: str) -> str:
    start = text.index(BEGIN)
    end = text.find(END, start)
    end = len(text) if end < 0 else end + len(END)
    if text[end : end + 1] == "\n":
        end += 1
    return text[:start] + block + text[end:]


def _without_block(text: str) -> str:
    return _replace_block(text, "")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return "\0"  # unreadable or binary: not a shell script, left alone


def _write(path: Path, text: str) -> None:
    mode = path.stat().st_mode if path.exists() else 0o755
    atomic_write(path, text.encode("utf-8"))
    os.chmod(path, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _make_executable(path: Path) -> None:
    mode = path.stat().st_mode
    os.chmod(path, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
