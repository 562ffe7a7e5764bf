"""One process or many under torchrun: the process group, the model wrapper (DDP or
FSDP2 `fully_shard`) and the few collectives the Trainer needs.

Every rank draws the same global batch and takes its own contiguous share, so a run on
N processes sees exactly the batches of a run on one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from light_llm.train.errors import TrainingError


@dataclass(frozen=True)
class Processes:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def start_processes(device_choice: str) -> Processes:
    """Join the process group torchrun describes (gloo on CPU, NCCL on CUDA), if any."""
    device = _pick_device(device_choice)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Processes(0, 1, device)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", device_id=device if device.type == "cuda" else None)
    return Processes(dist.get_rank(), dist.get_world_size(), device)


def stop_processes(processes: Processes) -> None:
    if processes.distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(model: nn.Module, strategy: str, processes: Processes) -> nn.Module:
    """DDP, or FSDP2 with one shard unit per block and one for the rest; unchanged on
    one process."""
    if not processes.distributed:
        return model
    if strategy == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for block in getattr(model, "blocks", []):
            fully_shard(block)
        fully_shard(model)
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [processes.device.index] if processes.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def mean_over_processes(value: torch.Tensor, processes: Processes) -> torch.Tensor:
    if processes.distributed:
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.AVG if processes.device.type == "cuda" else dist.ReduceOp.SUM)
        if processes.device.type != "cuda":  # gloo has no AVG
            value /= processes.world_size
    return value


def sum_over_processes(value: torch.Tensor, processes: Processes) -> torch.Tensor:
    if processes.distributed:
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


def any_process(flag: bool, processes: Processes) -> bool:
    """True on every rank when `flag` is true on any (so all ranks stop at the same step)."""
    if not processes.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=processes.device)
    return bool(sum_over_processes(value, processes).item() > 0)


def barrier(processes: Processes) -> None:
    if processes.distributed:
        dist.barrier()


def _pick_device(choice: str) -> torch.device:
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise TrainingError("train.device='cuda' but no CUDA device is available; use 'cpu' or 'auto'")
        return torch.device("cuda")
    return torch.device("cpu")
