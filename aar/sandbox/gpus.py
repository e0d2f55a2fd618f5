"""The host's NVIDIA GPUs, read from the driver's /proc files, and what a job assigned some of them gets.

A device id the scheduler assigns is a GPU's index in `nvidia-smi` order (PCI bus order) or its UUID.
Both map to one `Gpu`: its device node `/dev/nvidia<minor>` (what bwrap binds) and its UUID (what
CUDA_VISIBLE_DEVICES names, so the job sees exactly that GPU whatever order CUDA enumerates in). Docker
gets the ids themselves as device requests; the NVIDIA runtime does the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aar.errors import InfraError

PROC_GPUS = Path("/proc/driver/nvidia/gpus")
DEV = Path("/dev")
# Device nodes every CUDA process opens besides its GPUs' own (present on hosts with the driver loaded).
CONTROL_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")


class GpuUnavailable(InfraError):
    """A job was assigned GPUs this host does not have (or has no GPU at all)."""


@dataclass(frozen=True)
class Gpu:
    """One GPU: its nvidia-smi index, device-node minor number, UUID and PCI bus id."""

    index: int
    minor: int
    uuid: str
    bus: str


def host_gpus(root: Path | None = None) -> list[Gpu]:
    """The GPUs the NVIDIA driver reports under `root` (default /proc/driver/nvidia/gpus), in PCI bus
    order; [] when no driver is loaded. Where the driver's files are hidden (some containers) but its
    device nodes are there, torch's view instead (device minor assumed equal to the index)."""
    found = _proc_gpus(root or PROC_GPUS)
    if found or root is not None or not (DEV / "nvidiactl").exists():
        return found
    return _torch_gpus()


def _torch_gpus() -> list[Gpu]:
    import torch

    props = [torch.cuda.get_device_properties(i) for i in range(torch.cuda.device_count())]
    return [Gpu(i, i, f"GPU-{p.uuid}", str(getattr(p, "pci_bus_id", "?"))) for i, p in enumerate(props)]


def _proc_gpus(root: Path) -> list[Gpu]:
    if not root.is_dir():
        return []
    gpus = []
    for index, folder in enumerate(sorted(p for p in root.iterdir() if p.is_dir())):
        info = _fields((folder / "information").read_text(errors="replace"))
        if "Device Minor" in info and "GPU UUID" in info:
            gpus.append(Gpu(index, int(info["Device Minor"]), info["GPU UUID"], folder.name))
    return gpus


def _fields(text: str) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def assigned(devices: Sequence[str], gpus: Sequence[Gpu], job: str = "job") -> list[Gpu]:
    """The host GPUs a job's device ids name.

    Raises:
        GpuUnavailable: the host has no GPU, or not one of the ids (one line, with what it has).
    """
    if not devices:
        return []
    if not gpus:
        raise GpuUnavailable(
            f"job {job} is assigned GPU {','.join(devices)}, but this host has no NVIDIA GPU (no driver "
            f"under {PROC_GPUS}); run it on a CPU slot (`--parallel`, no GPU ids) or on a GPU host"
        )
    found = []
    for device in devices:
        match = [g for g in gpus if device in (str(g.index), g.uuid)]
        if not match:
            have = ", ".join(f"{g.index} ({g.uuid})" for g in gpus)
            raise GpuUnavailable(f"job {job} is assigned GPU {device}, which this host does not have: {have}")
        found.append(match[0])
    return found


GPUS_VAR = "AAR_GPUS"  # how many GPUs the job was assigned: a runner that sees fewer can fail at once


def cuda_env(gpus: Sequence[Gpu]) -> dict[str, str]:
    """CUDA_VISIBLE_DEVICES for exactly these GPUs (by UUID), empty (no GPU at all) for a CPU job; AAR_GPUS."""
    visible = ",".join(g.uuid for g in gpus)
    return {"CUDA_VISIBLE_DEVICES": visible, "CUDA_DEVICE_ORDER": "PCI_BUS_ID", GPUS_VAR: str(len(gpus))}


def device_nodes(gpus: Sequence[Gpu], dev: Path = DEV) -> list[Path]:
    """The device nodes a job on these GPUs needs: each GPU's own, then the driver's control nodes."""
    if not gpus:
        return []
    own = [dev / f"nvidia{g.minor}" for g in gpus]
    missing = [str(p) for p in own if not p.exists()]
    if missing:
        raise GpuUnavailable(f"GPU device node {', '.join(missing)} does not exist on this host")
    return own + [dev / n for n in CONTROL_NODES if (dev / n).exists()]


def gpu_host() -> bool:
    """True when this machine has an NVIDIA GPU (torch is imported only when the driver's files are hidden
    and its device nodes are there)."""
    return bool(host_gpus())
