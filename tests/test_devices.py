"""GPU discovery without a GPU: NVML absent or finding nothing gives a clear DeviceError."""

from __future__ import annotations

import sys
import types

import pytest

from fastpipe import devices, worker
from fastpipe.devices import Device, DeviceError, NvmlDevices, StaticDevices


def test_static_devices_are_what_was_given() -> None:
    assert StaticDevices((Device(0, "A"), Device(1, "B"))).devices() == [
        Device(0, "A"),
        Device(1, "B"),
    ]


def test_missing_pynvml_is_a_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` fail
    with pytest.raises(DeviceError, match="pynvml is not installed"):
        NvmlDevices().devices()
    assert devices.gpu_memory_probe() is None


def fake_nvml(count: int, *, init_error: Exception | None = None) -> types.ModuleType:
    module = types.ModuleType("pynvml")

    def init() -> None:
        if init_error is not None:
            raise init_error

    class Memory:
        total = 80 * 2**30

    class Proc:
        def __init__(self, pid: int, used: int) -> None:
            self.pid, self.usedGpuMemory = pid, used

    module.nvmlInit = init  # type: ignore[attr-defined]
    module.nvmlShutdown = lambda: None  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = lambda: count  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = lambda i: i  # type: ignore[attr-defined]
    module.nvmlDeviceGetName = lambda h: f"Fake GPU {h}".encode()  # type: ignore[attr-defined]
    module.nvmlDeviceGetMemoryInfo = lambda h: Memory()  # type: ignore[attr-defined]
    module.nvmlDeviceGetComputeRunningProcesses = lambda h: [  # type: ignore[attr-defined]
        Proc(pid, (h + 1) * 1000) for pid in (111, 222)
    ]
    return module


def test_nvml_devices_are_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(2))
    found = NvmlDevices().devices()
    assert [d.index for d in found] == [0, 1]
    assert found[0].name == "Fake GPU 0"
    assert found[0].memory_total == 80 * 2**30


def test_nvml_that_cannot_start_is_a_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    error = RuntimeError("NVML Shared Library Not Found")
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(0, init_error=error))
    with pytest.raises(DeviceError, match="NVML could not start: NVML Shared Library Not Found"):
        NvmlDevices().devices()


def test_memory_probe_sums_our_processes_on_our_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(2))
    probe = devices.gpu_memory_probe()
    assert probe is not None
    assert probe([0, 1], {111}) == 1000 + 2000
    assert probe([1], {111, 222}) == 2 * 2000
    assert probe([0], {999}) == 0


def test_sampler_records_the_peak(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter([10, 50, 30])
    monkeypatch.setattr(
        devices, "gpu_memory_probe", lambda: lambda indexes, pids: next(readings, 30)
    )
    monkeypatch.setattr(worker.GpuSampler, "INTERVAL_S", 0.01)
    sampler = worker.GpuSampler.start("0,1")
    assert sampler is not None
    import time

    time.sleep(0.2)
    assert sampler.stop() == 50


def test_no_sampler_without_devices_or_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    assert worker.GpuSampler.start(None) is None
    assert worker.GpuSampler.start("") is None
    monkeypatch.setattr(devices, "gpu_memory_probe", lambda: None)
    assert worker.GpuSampler.start("0") is None
