"""`fastpipe exec STAGE`: run one stage here, as an exported dvc.yaml's cmd does.

No staleness check, no lock, no log and no stat cache written: the caller (DVC) decides when
the stage runs and records what it ran. Outputs are prepared, checked and hashed exactly as in
`fastpipe run`, because the same `worker.run_stage` does it.
"""

from __future__ import annotations

from fastpipe.context import Context
from fastpipe.errors import GraphError
from fastpipe.worker import StageResult, StageTask, is_importable, run_stage


def exec_stage(ctx: Context, name: str) -> StageResult:
    """Run stage `name` in this process with its resolved params; the result, never a lock."""
    ctx.select([name])  # an unknown name raises UnknownStageError
    stage = ctx.pipeline.stages[name]
    spec = stage.spec
    missing = [dep for dep in spec.deps if not (ctx.root / dep).exists()]
    if missing:
        raise GraphError(
            f"stage '{name}' depends on '{missing[0]}', which does not exist; run the stages "
            f"upstream of it first (fastpipe run {name})"
        )
    pickled = None
    if not is_importable(stage.func, spec.module, spec.qualname):
        import cloudpickle

        pickled = cloudpickle.dumps(stage.func)
    task = StageTask(
        name=name,
        module=spec.module,
        qualname=spec.qualname,
        root=str(ctx.root),
        params=dict(ctx.params[name]),
        outputs=spec.outputs,
        persist=spec.persist,
        pickled=pickled,
    )
    return run_stage(task)
