"""Errors a user can act on, each with the exit code the CLI maps it to.

    FastpipeError                  exit 2: bad input; the message names what is wrong
    ├── ProjectError               no project found, malformed config, pipeline import failed
    ├── StageDefinitionError       bad @stage arguments, a param without a default, duplicates
    ├── UnknownStageError          a stage name that the pipeline does not define
    ├── ParamsError                unknown stage/param in params.yaml or --set, wrong value type
    ├── GraphError                 cycle, duplicate or overlapping outs, missing dep, outside root
    ├── LockSchemaError            a lock written by a newer fastpipe
    ├── ExecutorError              an executor unknown or not available on this Python
    ├── ResourceError              a stage needs more GPUs / resources than exist
    ├── ProjectBusyError           another `fastpipe run` holds this project
    ├── AcceptError                `accept` of a stage never run, or whose deps/outs changed
    ├── RevisionError              an unknown git revision, no git repository, a path not there
    ├── MetricsError               a metrics or plot file that cannot be read or drawn
    ├── RunNotFoundError           a run id that the run history does not hold
    ├── UnsafeInputError           a lock or manifest path leaving the root, a malformed hash
    ├── CacheError                 the output cache cannot be written or lacks an object
    ├── DvcError                   dvc missing, dvc.yaml/dvc.lock unreadable, a pipeline DVC
    │                              cannot express
    └── RemoteError                no/unknown remote, a missing extra, unreachable, refused
                                   credentials, an object whose bytes do not match its name

A stage that fails is not an error of fastpipe's: `run` reports it in its result (exit 1).
Warnings (code that cannot be fingerprinted, a corrupted lock) reach API callers as
`FastpipeWarning`s unless they pass a `listener`.
"""

from __future__ import annotations

from collections.abc import Iterable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class FastpipeError(Exception):
    """Base class: a problem the user can fix; the CLI prints it as one line and exits 2.

    `details` is printed before that line when the user needs more than one line to act,
    e.g. the traceback of their own code that failed while the pipeline was imported.
    """

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, *, details: str | None = None) -> None:
        super().__init__(message)
        self.details = details


class ProjectError(FastpipeError):
    """The project cannot be found, configured or imported."""


class StageDefinitionError(FastpipeError):
    """A @stage declaration is invalid."""


class UnknownStageError(FastpipeError):
    """A stage name that the pipeline does not define."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        message = f"unknown stage '{name}'"
        import difflib

        close = difflib.get_close_matches(name, list(known), n=1)
        if close:
            message += f" (did you mean '{close[0]}'?)"
        super().__init__(message)
        self.name = name


class ParamsError(FastpipeError):
    """A params override is unknown or has the wrong type."""


class GraphError(FastpipeError):
    """The stages do not form a valid pipeline graph."""


class LockSchemaError(FastpipeError):
    """A lock file was written by a newer fastpipe."""


class ExecutorError(FastpipeError):
    """An executor is unknown or not available here."""


class ResourceError(FastpipeError):
    """A stage needs more GPUs or resources than this machine has."""


class ProjectBusyError(FastpipeError):
    """Another `fastpipe run` is active in this project."""


class AcceptError(FastpipeError):
    """`fastpipe accept` refused: the stage never ran, or its deps or outputs changed."""


class RevisionError(FastpipeError):
    """A git revision (or something at it) that cannot be read."""


class MetricsError(FastpipeError):
    """A metrics or plot file that is not valid JSON/YAML/TOML/CSV, or has nothing to draw."""


class RunNotFoundError(FastpipeError):
    """A run id that is not in the run history (.fastpipe/runs/)."""


class UnsafeInputError(FastpipeError):
    """A lock or cache manifest names a path outside the project root or a malformed hash."""


class CacheError(FastpipeError):
    """The output cache cannot be used: not writable, or an object is missing or corrupt."""


class DvcError(FastpipeError):
    """The DVC bridge cannot do what was asked: no dvc, unreadable DVC files, unexportable."""


class FastpipeWarning(UserWarning):
    """A warning from fastpipe (e.g. code it cannot fingerprint), for API callers."""


class RemoteError(FastpipeError):
    """A remote cannot be used: not configured, its backend missing, unreachable, refused."""
