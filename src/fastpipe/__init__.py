"""fastpipe: run Python pipelines incrementally, in parallel, with code-aware staleness.

The library API (docs/api.md). Names are resolved on first use through the module
`__getattr__` (as CPython's `concurrent.futures` does), so `import fastpipe` imports nothing
heavy: `fastpipe.stage` loads the decorator, `fastpipe.run` the command layer.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__all__ = [
    "AcceptError",
    "CacheError",
    "DvcError",
    "ExecutorError",
    "ExportResult",
    "FastpipeError",
    "FastpipeWarning",
    "Freshness",
    "GraphError",
    "ImportReport",
    "InitResult",
    "LockSchemaError",
    "MetricsError",
    "Out",
    "Outcome",
    "ParamsError",
    "Plot",
    "ProjectBusyError",
    "ProjectError",
    "Reason",
    "ReasonKind",
    "RemoteError",
    "ResourceError",
    "RevisionError",
    "RunNotFoundError",
    "RunResult",
    "StageDefinitionError",
    "StageInfo",
    "StageResult",
    "StageRun",
    "StageSpec",
    "StageStatus",
    "StatusReport",
    "UnknownStageError",
    "UnsafeInputError",
    "ValidationReport",
    "checkout",
    "dag",
    "exec_stage",
    "explain",
    "export",
    "import_dvc",
    "init",
    "list_stages",
    "metrics",
    "metrics_diff",
    "open",
    "params",
    "params_diff",
    "run",
    "stage",
    "status",
    "validate_export",
]

_ERRORS = (
    "AcceptError", "DvcError", "ExecutorError", "FastpipeError", "FastpipeWarning", "GraphError",
    "LockSchemaError", "ParamsError", "ProjectBusyError", "ProjectError", "ResourceError",
    "RevisionError", "MetricsError", "RunNotFoundError", "UnsafeInputError", "CacheError",
    "RemoteError",
    "StageDefinitionError", "UnknownStageError",
)  # fmt: skip
_API = (
    "InitResult", "StageInfo", "StatusReport", "dag", "exec_stage", "explain", "export",
    "import_dvc", "init", "list_stages", "run", "status", "validate_export",
    "metrics", "metrics_diff", "params", "params_diff", "checkout", "open",
)  # fmt: skip
# Public name -> the module that defines it.
_HOMES: dict[str, str] = {
    **dict.fromkeys(_ERRORS, "fastpipe.errors"),
    **dict.fromkeys(_API, "fastpipe.api"),
    **dict.fromkeys(("Out", "Plot", "StageSpec", "stage"), "fastpipe.stage"),
    "Outcome": "fastpipe.results",
    "RunResult": "fastpipe.results",
    "StageRun": "fastpipe.results",
    "Freshness": "fastpipe.staleness",
    "Reason": "fastpipe.staleness",
    "ReasonKind": "fastpipe.staleness",
    "StageStatus": "fastpipe.staleness",
    "StageResult": "fastpipe.worker",
    "ExportResult": "fastpipe.export.dvcyaml",
    "ValidationReport": "fastpipe.export.validate",
    "ImportReport": "fastpipe.export.adopt",
}

if TYPE_CHECKING:
    from fastpipe.api import (
        InitResult,
        StageInfo,
        StatusReport,
        checkout,
        dag,
        exec_stage,
        explain,
        export,
        import_dvc,
        init,
        list_stages,
        metrics,
        metrics_diff,
        open,
        params,
        params_diff,
        run,
        status,
        validate_export,
    )
    from fastpipe.errors import (
        AcceptError,
        CacheError,
        DvcError,
        ExecutorError,
        FastpipeError,
        FastpipeWarning,
        GraphError,
        LockSchemaError,
        MetricsError,
        ParamsError,
        ProjectBusyError,
        ProjectError,
        RemoteError,
        ResourceError,
        RevisionError,
        RunNotFoundError,
        StageDefinitionError,
        UnknownStageError,
        UnsafeInputError,
    )
    from fastpipe.export.adopt import ImportReport
    from fastpipe.export.dvcyaml import ExportResult
    from fastpipe.export.validate import ValidationReport
    from fastpipe.results import Outcome, RunResult, StageRun
    from fastpipe.stage import Out, Plot, StageSpec, stage
    from fastpipe.staleness import Freshness, Reason, ReasonKind, StageStatus
    from fastpipe.worker import StageResult


class _Package(types.ModuleType):
    """The package module, which keeps its API names when a submodule shares one.

    Importing `fastpipe.export.dvcyaml` the first time would bind the attribute `export` to
    the subpackage, hiding the `export()` function (likewise `stage`, and any other name that
    is a function here and a module below); the import system sets it through `setattr`.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, types.ModuleType) and name in __all__:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'fastpipe' has no attribute '{name}'")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
