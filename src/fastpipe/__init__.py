"""fastpipe: run Python pipelines incrementally, in parallel, with code-aware staleness."""

from typing import TYPE_CHECKING, Any

from fastpipe.stage import Plot, StageSpec, stage

if TYPE_CHECKING:
    from fastpipe.api import metrics, metrics_diff, params_diff, stage_params

# Comparing runs (fastpipe.api), imported on first use so that `import fastpipe` stays light.
# `params` would shadow the fastpipe.params module, hence `stage_params`.
_COMPARE_API = ("metrics", "metrics_diff", "stage_params", "params_diff")


def __getattr__(name: str) -> Any:
    if name in _COMPARE_API:
        from fastpipe import api

        return getattr(api, name)
    raise AttributeError(f"module 'fastpipe' has no attribute {name!r}")


__all__ = ["Plot", "StageSpec", "metrics", "metrics_diff", "params_diff", "stage", "stage_params"]
