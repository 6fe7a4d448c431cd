"""GPUs: found with NVML (pynvml), or given by an injected source in tests.

Nothing here is imported on the startup path; NVML is only asked when a selected stage
declares `gpus=N`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Device:
    """One GPU: its index (as CUDA_VISIBLE_DEVICES counts), name and memory in bytes."""

    index: int
    name: str = "GPU"
    memory_total: int = 0


class DeviceSource(Protocol):
    """Where the GPUs of this machine come from."""

    def devices(self) -> list[Device]:
        """The GPUs present; raises DeviceError (with why) when they cannot be listed."""
        ...


class DeviceError(Exception):
    """GPUs could not be listed (no NVML library, no driver...)."""


@dataclass(frozen=True)
class StaticDevices:
    """A fixed list of devices (tests; machines where NVML must not be asked)."""

    found: tuple[Device, ...] = ()

    def devices(self) -> list[Device]:
        return list(self.found)


class NvmlDevices:
    """The GPUs NVML reports."""

    def devices(self) -> list[Device]:
        nvml = _nvml()
        try:
            nvml.nvmlInit()
        except Exception as exc:
            raise DeviceError(f"NVML could not start: {exc}") from None
        try:
            found = []
            for index in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                name = nvml.nvmlDeviceGetName(handle)
                memory = nvml.nvmlDeviceGetMemoryInfo(handle).total
                found.append(
                    Device(index, name if isinstance(name, str) else name.decode(), memory)
                )
            return found
        finally:
            nvml.nvmlShutdown()


def _nvml() -> Any:
    try:
        import pynvml
    except ImportError as exc:
        raise DeviceError(f"pynvml is not installed ({exc})") from None
    return pynvml


def gpu_memory_probe() -> Callable[[list[int], set[int]], int] | None:
    """A function (device indexes, pids) -> bytes those pids use on them; None without NVML."""
    try:
        nvml = _nvml()
        nvml.nvmlInit()
    except Exception:
        return None

    def probe(indexes: list[int], pids: set[int]) -> int:
        used = 0
        for index in indexes:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            for proc in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid in pids and proc.usedGpuMemory:
                    used += proc.usedGpuMemory
        return used

    return probe
