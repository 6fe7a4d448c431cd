"""Remotes: `[tool.fastpipe.remotes.NAME]` tables, which one a command uses, and its fsspec side.

A remote is any fsspec URL with the cache's layout below it (docs/guide.md, "Sharing data"):
a local directory or `file://` in the core install, `s3://` with `fastpipe[s3]` (s3fs),
`gs://` with `fastpipe[gcs]` (gcsfs). fsspec and its backends are imported only when a remote
is opened, so `import fastpipe` and `fastpipe --help` never pay for them.

Credentials live in `options` (or the backend's own environment and files) and never reach
output, logs or locks: URLs are shown with any password stripped, and the strings of secret
options are scrubbed from every error message built here.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fastpipe.errors import RemoteError

REMOTE_ENV = "FASTPIPE_REMOTE"  # a remote's name (or a URL), before default_remote
# The extra that brings each protocol's fsspec backend.
EXTRAS = MappingProxyType({"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"})
# Bounded waits, so an unreachable endpoint is an error within seconds, not minutes.
S3_CONFIG = MappingProxyType(
    {"connect_timeout": 5, "read_timeout": 20, "retries": {"max_attempts": 2, "mode": "standard"}}
)
S3_RETRIES = 2  # s3fs's own retry loop around botocore's (its default is 5)
_SECRET_KEY = re.compile(r"key|secret|token|password|credential", re.IGNORECASE)
_LOCAL_PROTOCOLS = frozenset({"file", "local"})


@dataclass(frozen=True)
class RemoteConfig:
    """One `[tool.fastpipe.remotes.NAME]` table: a URL and the options fsspec gets."""

    name: str
    url: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def shown_url(self) -> str:
        """The URL as output may show it: any password stripped."""
        return strip_password(self.url)


@dataclass(frozen=True)
class RemotesConfig:
    """All remotes of a project and the default one's name."""

    remotes: Mapping[str, RemoteConfig] = field(default_factory=lambda: MappingProxyType({}))
    default: str | None = None


@dataclass(frozen=True)
class Remote:
    """An opened remote: its config, fsspec filesystem and the path of its root in it."""

    config: RemoteConfig
    opened: Any  # an fsspec AbstractFileSystem; None for a plain directory until `fs` is used
    base: str

    @cached_property
    def fs(self) -> Any:
        """The fsspec filesystem (a plain directory imports fsspec only when this is asked for)."""
        if self.opened is not None:
            return self.opened
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem(auto_mkdir=True)  # as open_remote gives any local remote

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def shown_url(self) -> str:
        return self.config.shown_url

    @property
    def is_local(self) -> bool:
        """A filesystem where a rename publishes a file (object stores publish on PUT)."""
        if self.opened is None:
            return True
        protocol = self.opened.protocol
        protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
        return bool(_LOCAL_PROTOCOLS.intersection(protocols))

    def path(self, key: str) -> str:
        """The fsspec path of an object key (e.g. `files/xxh3/ab/...`) on this remote."""
        return f"{self.base}/{key}"

    def error(self, what: str, exc: BaseException) -> RemoteError:
        """A one-line RemoteError for `exc`, raised while doing `what`, with secrets scrubbed."""
        return RemoteError(scrub(describe_failure(self.config, what, exc), self.config))


def parse_remotes(table: Mapping[str, Any]) -> RemotesConfig:
    """The validated `remotes` and `default_remote` keys of a `[tool.fastpipe]` table."""
    raw = table.get("remotes", {})
    if not isinstance(raw, dict):
        raise RemoteError("pyproject.toml: [tool.fastpipe] remotes must be a table of tables")
    remotes = {name: _remote(name, value) for name, value in raw.items()}
    default = table.get("default_remote")
    if default is not None:
        if not isinstance(default, str):
            raise RemoteError("pyproject.toml: [tool.fastpipe] default_remote must be a string")
        if default not in remotes:
            raise _unknown(default, remotes, "default_remote")
    return RemotesConfig(MappingProxyType(remotes), default)


def _remote(name: str, value: object) -> RemoteConfig:
    where = f"pyproject.toml: [tool.fastpipe.remotes.{name}]"
    if not isinstance(value, dict):
        raise RemoteError(f"{where} must be a table with a url")
    unknown = sorted(set(value) - {"url", "options"})
    if unknown:
        raise RemoteError(f"{where}: unknown key '{unknown[0]}' (url, options)")
    url, options = value.get("url"), value.get("options", {})
    if not isinstance(url, str) or not url:
        raise RemoteError(f'{where} needs url = "..." (a directory, s3://..., gs://...)')
    if not isinstance(options, dict):
        raise RemoteError(f"{where}: options must be a table (passed to fsspec)")
    return RemoteConfig(name, url, MappingProxyType(dict(options)))


def select(
    config: RemotesConfig | None, name: str | None, env: Mapping[str, str] | None = None
) -> RemoteConfig:
    """The remote a command uses: `-r NAME`, else $FASTPIPE_REMOTE, else default_remote.

    $FASTPIPE_REMOTE may also hold a URL (`s3://...`, a path), a remote without options.
    With none of these and exactly one remote configured, that one.
    """
    environ = os.environ if env is None else env
    config = config or RemotesConfig()
    chosen = name or environ.get(REMOTE_ENV) or config.default
    if chosen is None:
        if len(config.remotes) == 1:
            return next(iter(config.remotes.values()))
        if not config.remotes:
            raise RemoteError(
                'no remote configured: add [tool.fastpipe.remotes.NAME] with url = "..." '
                'to pyproject.toml (and default_remote = "NAME"), or set FASTPIPE_REMOTE=URL'
            )
        known = ", ".join(sorted(config.remotes))
        raise RemoteError(
            f"several remotes ({known}) and no default_remote: pass -r NAME or set "
            "default_remote in [tool.fastpipe]"
        )
    found = config.remotes.get(chosen)
    if found is not None:
        return found
    if name is None and chosen == environ.get(REMOTE_ENV) and _looks_like_url(chosen):
        return RemoteConfig(REMOTE_ENV, chosen)
    raise _unknown(chosen, config.remotes, "-r" if name else REMOTE_ENV)


def _looks_like_url(text: str) -> bool:
    return "://" in text or text.startswith(("/", ".", "~"))


def _unknown(name: str, remotes: Mapping[str, RemoteConfig], where: str) -> RemoteError:
    message = f"unknown remote '{name}' ({where})"
    close = difflib.get_close_matches(name, list(remotes), n=1)
    if close:
        message += f"; did you mean '{close[0]}'?"
    elif remotes:
        message += f"; configured: {', '.join(sorted(remotes))}"
    else:
        message += "; no remote is configured in [tool.fastpipe.remotes]"
    return RemoteError(message)


def open_remote(config: RemoteConfig, root: Path) -> Remote:
    """The fsspec filesystem of a remote (a relative directory is relative to `root`)."""
    protocol = _protocol(config.url)
    if not config.options and ("://" not in config.url or config.url.startswith("file://")):
        # A plain directory: transfer.py uses os calls, so fsspec (~0.1 s to import) waits.
        local = Path(os.path.expanduser(config.url.removeprefix("file://")))
        base = str(local if local.is_absolute() else root / local)
        return Remote(config, None, base.rstrip("/"))
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec is a core dependency
        raise RemoteError("remotes need fsspec: pip install fsspec") from None
    options = _options(protocol, config.options)
    url = config.url
    if protocol in _LOCAL_PROTOCOLS:
        local = Path(os.path.expanduser(url.removeprefix("file://")))
        url = str(local if local.is_absolute() else root / local)
    try:
        fs, base = fsspec.core.url_to_fs(url, **options)
    except ImportError:
        raise _missing_extra(config, protocol) from None
    except ValueError as exc:  # an unknown protocol
        message = scrub(f"remote '{config.name}' ({config.shown_url}): {exc}", config)
        raise RemoteError(message) from None
    except Exception as exc:
        raise RemoteError(scrub(describe_failure(config, "opening it", exc), config)) from None
    if protocol in ("s3", "s3a") and hasattr(fs, "retries"):
        fs.retries = S3_RETRIES
    return Remote(config, fs, str(base).rstrip("/"))


def _protocol(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep else "file"


def _options(protocol: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """fsspec options, with bounded timeouts and retries for S3 unless the user set them."""
    merged = dict(options)
    if protocol in ("s3", "s3a"):
        given = merged.get("config_kwargs")
        merged["config_kwargs"] = {**S3_CONFIG, **(given if isinstance(given, dict) else {})}
    if protocol in _LOCAL_PROTOCOLS:
        merged.setdefault("auto_mkdir", True)
    return merged


def _missing_extra(config: RemoteConfig, protocol: str) -> RemoteError:
    extra = EXTRAS.get(protocol)
    where = f"remote '{config.name}' ({config.shown_url})"
    if extra is None:
        return RemoteError(f"{where}: fsspec has no installed backend for '{protocol}://'")
    backend = "s3fs" if extra == "s3" else "gcsfs"
    return RemoteError(f"{where} needs {backend}: pip install 'fastpipe[{extra}]'")


def describe_failure(config: RemoteConfig, what: str, exc: BaseException) -> str:
    """One line saying why talking to a remote failed, and what to check."""
    where = f"remote '{config.name}' ({config.shown_url})"
    detail = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, PermissionError) or _is_auth_failure(exc):
        return f"{where} refused access while {what}: check its credentials ({detail})"
    if isinstance(exc, FileNotFoundError):
        return f"{where}: not found while {what}: check the url ({detail})"
    if _is_connection_failure(exc):
        return f"{where} is unreachable while {what}: check the url and network ({detail})"
    return f"{where} failed while {what}: {type(exc).__name__}: {detail}"


def _is_auth_failure(exc: BaseException) -> bool:
    text = str(exc)
    markers = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden")
    return any(marker in text for marker in markers) or type(exc).__name__ == "NoCredentialsError"


def _is_connection_failure(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    connection = {"ConnectionError", "EndpointConnectionError", "ConnectTimeoutError"}
    return bool(names & connection) or isinstance(exc, TimeoutError | ConnectionError)


def strip_password(url: str) -> str:
    """`url` without the password of its user part: `s3://user:pw@host/x` -> `s3://user@host/x`."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username
    netloc = f"{user}@{host}" if user else host
    return urlunsplit(parts._replace(netloc=netloc))


def secrets_of(options: Mapping[str, Any]) -> list[str]:
    """The string values of options whose key names a secret (key, secret, token, password)."""
    found: list[str] = []
    for key, value in options.items():
        if isinstance(value, Mapping):
            found += secrets_of(value)
        elif isinstance(value, str) and len(value) >= 4 and _SECRET_KEY.search(str(key)):
            # (shorter values would mangle unrelated words and cannot be real credentials)
            found.append(value)
    return found


def scrub(text: str, config: RemoteConfig) -> str:
    """`text` with the URL's password and every secret option value replaced by `***`."""
    from urllib.parse import urlsplit

    secrets = secrets_of(config.options)
    try:
        password = urlsplit(config.url).password
    except ValueError:
        password = None
    if password:
        secrets.append(password)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
