"""Per-run GPU and resource placement (SPEC 8), with injected devices."""

from __future__ import annotations

import pytest

from fastpipe.devices import Device
from fastpipe.errors import ResourceError
from fastpipe.placement import ClusterPlacement, Placement, check_needs
from fastpipe.stage import StageSpec


def spec(name: str, gpus: int = 0, **resources: float) -> StageSpec:
    return StageSpec(name=name, module="m", qualname=name, gpus=gpus,
                     resources=tuple(sorted(resources.items())))  # fmt: skip


def test_gpu_stages_get_distinct_devices_and_give_them_back() -> None:
    placement = Placement([Device(0), Device(1), Device(2)], {})
    a, b = spec("a", gpus=2), spec("b", gpus=1)
    grant_a = placement.acquire(a)
    assert placement.fits(b)
    grant_b = placement.acquire(b)
    assert set(grant_a.devices).isdisjoint(grant_b.devices)
    assert grant_a.env == {"CUDA_VISIBLE_DEVICES": "0,1"}
    assert grant_b.env == {"CUDA_VISIBLE_DEVICES": "2"}
    assert not placement.fits(spec("c", gpus=1))
    placement.release("a")
    assert placement.fits(spec("c", gpus=2))


def test_cpu_stages_get_no_device_variable() -> None:
    placement = Placement([Device(0)], {})
    assert placement.acquire(spec("cpu")).env == {}


def test_custom_resources_are_counted() -> None:
    placement = Placement([], {"db": 2.0})
    placement.acquire(spec("a", db=1.5))
    assert not placement.fits(spec("b", db=1))
    assert placement.fits(spec("c", db=0.5))
    placement.release("a")
    assert placement.fits(spec("b", db=2))


def test_releasing_an_unknown_stage_is_harmless() -> None:
    placement = Placement([Device(0)], {})
    placement.release("never-acquired")
    assert placement.fits(spec("a", gpus=1))


def test_too_many_gpus_is_refused_naming_the_stage_and_shortfall() -> None:
    with pytest.raises(ResourceError, match="stage 'train' needs 2 GPUs but this machine has 1"):
        check_needs([spec("train", gpus=2)], 1, {})


def test_no_gpu_says_why() -> None:
    with pytest.raises(ResourceError, match="needs 1 GPU but this machine has 0 found: no NVML"):
        check_needs([spec("train", gpus=1)], 0, {}, "no NVML")


def test_resource_without_capacity_is_refused() -> None:
    with pytest.raises(ResourceError, match=r"needs resource 'db' but no capacity is set"):
        check_needs([spec("load", db=1)], 0, {})


def test_resource_above_capacity_is_refused() -> None:
    with pytest.raises(ResourceError, match=r"needs 3 of resource 'db' but the capacity is 2"):
        check_needs([spec("load", db=3)], 0, {"db": 2})


def test_needs_within_capacity_pass() -> None:
    check_needs([spec("a", gpus=1, db=2), spec("b")], 1, {"db": 2})


def test_a_cluster_placement_lets_every_stage_start_and_assigns_no_device() -> None:
    placement = ClusterPlacement()  # a Dask cluster by address: its workers hold the GPUs
    needy = [spec("a", gpus=4, db=2.0), spec("b", gpus=4, db=2.0)]
    grants = [placement.acquire(s) for s in needy if placement.fits(s)]
    assert len(grants) == 2 and all(g.env == {} for g in grants)
    placement.release("a")
