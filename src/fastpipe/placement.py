"""Per-run GPU and resource placement: which stage may start now, on which devices.

A `Placement` is created for one run and owned by it (no host-wide files, no globals). Stages
that need more than the machine has are refused before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fastpipe.devices import Device
from fastpipe.errors import ResourceError
from fastpipe.stage import StageSpec


@dataclass(frozen=True)
class Grant:
    """What a started stage holds until it finishes."""

    devices: tuple[int, ...]
    resources: tuple[tuple[str, float], ...]

    @property
    def env(self) -> dict[str, str]:
        if not self.devices:
            return {}
        return {"CUDA_VISIBLE_DEVICES": ",".join(str(d) for d in self.devices)}


class Placement:
    """Free GPUs and resource amounts, taken by starting stages and given back at the end."""

    def __init__(self, devices: Iterable[Device], capacities: Mapping[str, float]) -> None:
        self._free_devices = sorted(d.index for d in devices)
        self._free = dict(capacities)
        self._grants: dict[str, Grant] = {}

    def fits(self, spec: StageSpec) -> bool:
        """Whether `spec` can start now."""
        if spec.gpus > len(self._free_devices):
            return False
        return all(self._free.get(name, 0.0) >= amount for name, amount in spec.resources)

    def acquire(self, spec: StageSpec) -> Grant:
        """Take what `spec` needs (call only when `fits`)."""
        devices = tuple(self._free_devices[: spec.gpus])
        del self._free_devices[: spec.gpus]
        for name, amount in spec.resources:
            self._free[name] -= amount
        grant = Grant(devices, spec.resources)
        self._grants[spec.name] = grant
        return grant

    def release(self, name: str) -> None:
        """Give back what stage `name` held (nothing if it held nothing)."""
        grant = self._grants.pop(name, None)
        if grant is None:
            return
        self._free_devices = sorted([*self._free_devices, *grant.devices])
        for resource, amount in grant.resources:
            self._free[resource] += amount


class ClusterPlacement(Placement):
    """Placement left to a cluster (Dask, given by address): every stage may start now.

    Its workers hold the GPUs and resources, and its scheduler places each stage on a worker
    that advertises what the stage needs; no device here is assigned or counted.
    """

    def __init__(self) -> None:
        super().__init__((), {})

    def fits(self, spec: StageSpec) -> bool:
        return True

    def acquire(self, spec: StageSpec) -> Grant:
        return Grant((), ())


def check_needs(
    specs: Iterable[StageSpec], gpus: int, capacities: Mapping[str, float], why_no_gpu: str = ""
) -> None:
    """Refuse (ResourceError) a stage that needs more than exists, naming the shortfall."""
    for spec in specs:
        if spec.gpus > gpus:
            found = f"{gpus} found" + (f": {why_no_gpu}" if why_no_gpu and gpus == 0 else "")
            raise ResourceError(
                f"stage '{spec.name}' needs {spec.gpus} GPU{'s' if spec.gpus > 1 else ''} "
                f"but this machine has {found}"
            )
        for name, amount in spec.resources:
            have = capacities.get(name)
            if have is None:
                raise ResourceError(
                    f"stage '{spec.name}' needs resource '{name}' but no capacity is set; "
                    f"add it to [tool.fastpipe] resources or pass --resources {name}=N"
                )
            if amount > have:
                raise ResourceError(
                    f"stage '{spec.name}' needs {amount:g} of resource '{name}' "
                    f"but the capacity is {have:g}"
                )
