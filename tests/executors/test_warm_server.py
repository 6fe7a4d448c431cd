"""The warm server's reload: which modules it forgets (so the next import reads the edit)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

from fastpipe.executors.warm_server import _forget_project_modules


def module(name: str, file: Path) -> types.ModuleType:
    found = types.ModuleType(name)
    found.__file__ = str(file)
    sys.modules[name] = found
    return found


def test_each_reload_forgets_every_project_module_and_keeps_libraries(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    library = tmp_path / "lib" / "fp_test_lib.py"
    library.parent.mkdir()
    linked = tmp_path / "linked_helper.py"
    linked.symlink_to(root / "helpers.py")  # a project file reached through a symlink
    outside: set[str] = set()
    try:
        module("fp_test_lib", library)
        module("fp_test_helpers", root / "helpers.py")
        module("fp_test_linked", linked)
        _forget_project_modules(str(root), outside)
        assert "fp_test_lib" in sys.modules
        assert "fp_test_helpers" not in sys.modules and "fp_test_linked" not in sys.modules
        assert str(library) in outside  # remembered: not resolved again
        assert not {str(root / "helpers.py"), str(linked)} & outside

        # The next reload: the project's modules imported again are forgotten again.
        module("fp_test_helpers", root / "helpers.py")
        module("fp_test_pkg", root / "pkg" / "__init__.py")
        module("fp_test_linked", linked)
        _forget_project_modules(str(root), outside)
        assert "fp_test_lib" in sys.modules
        assert not {"fp_test_helpers", "fp_test_pkg", "fp_test_linked"} & set(sys.modules)
    finally:
        for name in ("fp_test_lib", "fp_test_helpers", "fp_test_pkg", "fp_test_linked"):
            sys.modules.pop(name, None)
