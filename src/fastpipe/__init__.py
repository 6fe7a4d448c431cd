"""fastpipe: run Python pipelines incrementally, in parallel, with code-aware staleness."""

from typing import TYPE_CHECKING, Any

from fastpipe.stage import Out, Plot, StageSpec, stage

if TYPE_CHECKING:
    from fastpipe.api import checkout, open

__all__ = ["Out", "Plot", "StageSpec", "checkout", "open", "stage"]

_FROM_API = {"checkout", "open"}  # loaded on first use: `import fastpipe` stays light


def __getattr__(name: str) -> Any:
    if name in _FROM_API:
        from fastpipe import api

        return getattr(api, name)
    raise AttributeError(f"module 'fastpipe' has no attribute {name!r}")
