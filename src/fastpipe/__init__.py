"""fastpipe: run Python pipelines incrementally, in parallel, with code-aware staleness."""

from fastpipe.stage import StageSpec, stage

__all__ = ["StageSpec", "stage"]
