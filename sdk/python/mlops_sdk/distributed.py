"""Data-parallel training from a single-GPU script with two lines (docs/distributed-training.md)::

    import mlops_sdk.distributed as dist
    model, loader = dist.prepare(model, loader)

The platform launches one process per rank with the torchrun environment (RANK, LOCAL_RANK, WORLD_SIZE,
LOCAL_WORLD_SIZE, NODE_RANK, MASTER_ADDR, MASTER_PORT; CUDA_VISIBLE_DEVICES per rank). ``prepare`` joins
the process group from it (NCCL when the model is on a GPU, gloo otherwise), wraps the model in
DistributedDataParallel and gives the DataLoader a DistributedSampler. Without WORLD_SIZE, or with
WORLD_SIZE=1, it returns the model and loader unchanged, so the same script still runs on one process.

Unlike the rest of the SDK this module needs PyTorch; it is imported only when a script asks for it.
"""

from __future__ import annotations

import atexit
import datetime
import os
import random
import warnings
from typing import Any, Mapping, Optional, Union

import torch
import torch.distributed as _td
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
)

from .env import RankEnv

__all__ = [
    "DistributedModel",
    "all_reduce_mean",
    "barrier",
    "cleanup",
    "is_distributed",
    "is_main",
    "local_rank",
    "prepare",
    "rank",
    "seed_everything",
    "set_epoch",
    "unwrap",
    "world_size",
]

_REQUIRED_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def _env(environ: Optional[Mapping[str, str]] = None) -> RankEnv:
    return RankEnv.from_environ(environ)


def is_distributed() -> bool:
    """True once the process group is initialised with more than one rank."""
    return _td.is_available() and _td.is_initialized() and _td.get_world_size() > 1


def rank() -> int:
    """This process's global rank: from the process group once initialised, else RANK (0 when unset)."""
    if _td.is_available() and _td.is_initialized():
        return _td.get_rank()
    return _env().rank


def local_rank() -> int:
    """The rank within this node (LOCAL_RANK, 0 when unset)."""
    return _env().local_rank


def world_size() -> int:
    """Number of ranks: from the process group once initialised, else WORLD_SIZE (1 when unset)."""
    if _td.is_available() and _td.is_initialized():
        return _td.get_world_size()
    return _env().world_size


def is_main() -> bool:
    """Rank 0: the one that logs, writes outputs and registers models."""
    return rank() == 0


def barrier() -> None:
    """Waits for every rank (a no-op on one process)."""
    if not is_distributed():
        return
    if _td.get_backend() == "nccl":  # name this rank's GPU: NCCL would guess it from the global rank
        _td.barrier(device_ids=[torch.cuda.current_device()])
    else:
        _td.barrier()


def cleanup() -> None:
    """Leaves the process group (safe to call more than once, and on one process).

    All ranks meet in a barrier first: a rank that tears its group down while a peer is still inside a
    collective makes gloo abort that peer ("terminate called without an active exception", SIGABRT).
    `prepare` also registers this to run at interpreter exit, for scripts that never call it.
    """
    if _td.is_available() and _td.is_initialized():
        try:
            barrier()
        except RuntimeError:
            pass  # a peer is already gone: leave anyway
        _td.destroy_process_group()


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy (when installed) and PyTorch (CPU and every GPU) with the same seed."""
    random.seed(seed)
    try:
        import numpy as np  # noqa: PLC0415 - optional: the SDK does not depend on NumPy
    except ImportError:
        pass
    else:
        np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def all_reduce_mean(value: Union[torch.Tensor, float, int]) -> Union[torch.Tensor, float]:
    """The mean of ``value`` over all ranks (a tensor for a tensor, a float for a number). The input is not
    modified. On one process it returns the value itself (a number as float)."""
    as_number = not isinstance(value, torch.Tensor)
    if not is_distributed():
        return float(value) if as_number else value
    if as_number:
        device = torch.device("cuda", torch.cuda.current_device()) if _td.get_backend() == "nccl" else None
        tensor = torch.tensor(float(value), dtype=torch.float64, device=device)
    else:
        tensor = value.detach().clone()
    # Integer tensors would be floor-divided; the mean of counts is a fraction.
    if not tensor.is_floating_point():
        tensor = tensor.double()
    _td.all_reduce(tensor, op=_td.ReduceOp.SUM)
    tensor /= _td.get_world_size()
    return float(tensor) if as_number else tensor


class DistributedModel(DistributedDataParallel):
    """DistributedDataParallel that still looks like the user's model, so that the rest of a single-GPU
    script runs unchanged: attributes and methods it does not have come from the wrapped module
    (``model.backbone``, ``model.freeze()``), and ``state_dict()`` / ``load_state_dict()`` use the module's
    keys (no ``module.`` prefix), so checkpoints load into the plain model."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            modules = self.__dict__.get("_modules", {})
            if name == "module" or "module" not in modules:
                raise  # still inside DistributedDataParallel.__init__
            return getattr(modules["module"], name)

    def state_dict(self, *args, **kwargs):
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict, strict: bool = True):
        return self.module.load_state_dict(state_dict, strict)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside a DistributedDataParallel wrapper (the model itself otherwise)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


class DistributedLoader(DataLoader):
    """A DataLoader over a DistributedSampler that advances the sampler's epoch each time it is iterated,
    so each epoch is shuffled differently without a ``set_epoch`` call in the training loop (an explicit
    ``set_epoch(loader, epoch)`` sets the epoch of the next iteration)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.next_epoch = 0

    def __iter__(self):
        self.sampler.set_epoch(self.next_epoch)
        self.next_epoch += 1
        return super().__iter__()


def set_epoch(loader: Any, epoch: int) -> None:
    """Tells the loader's DistributedSampler which epoch comes next (the shuffle order depends on it).
    A no-op for loaders without one."""
    if isinstance(loader, DistributedLoader):
        loader.next_epoch = epoch
    elif isinstance(getattr(loader, "sampler", None), DistributedSampler):
        loader.sampler.set_epoch(epoch)


def _model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def _gpu_for(env: RankEnv) -> torch.device:
    """With CUDA_VISIBLE_DEVICES set per rank (the platform does) each rank sees one GPU: cuda:0. When a
    rank sees every GPU of its node (some cluster setups), LOCAL_RANK picks its own."""
    count = torch.cuda.device_count()
    return torch.device("cuda", 0 if count <= 1 else env.local_rank % count)


def _ranks_share_a_gpu(env: RankEnv, environ: Optional[Mapping[str, str]] = None) -> bool:
    """True when this node's ranks cannot each have a GPU of their own: every rank sees the same GPUs (no
    CUDA_VISIBLE_DEVICES per rank, as the platform sets) and there are fewer of them than ranks on the node.
    NCCL refuses two ranks on one GPU ("Duplicate GPU detected"), so ``prepare`` then uses gloo."""
    visible = (environ if environ is not None else os.environ).get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() != "":
        return False  # the launcher chose this rank's GPUs
    return env.local_world_size > torch.cuda.device_count()


def _init_process_group(env: RankEnv, backend: str, timeout_s: Optional[float]) -> None:
    if _td.is_initialized():
        return  # the script (or a launcher) joined already
    given = (env.rank_set, True, env.master_addr, env.master_port)  # WORLD_SIZE is given: we got here
    missing = [key for key, value in zip(_REQUIRED_ENV, given) if not value]
    if missing:
        raise RuntimeError(
            f"WORLD_SIZE={env.world_size} but {', '.join(missing)} not set: launch the ranks as a platform job "
            "(mlops run submit --nodes N --procs-per-node P) or set the torchrun environment yourself"
        )
    options = {}
    if timeout_s is not None:
        options["timeout"] = datetime.timedelta(seconds=timeout_s)
    # What init_method="env://" does, from the values read here (so `environ` works in tests too).
    host = f"[{env.master_addr}]" if ":" in env.master_addr else env.master_addr
    _td.init_process_group(
        backend=backend,
        init_method=f"tcp://{host}:{env.master_port}",
        rank=env.rank,
        world_size=env.world_size,
        **options,
    )
    atexit.register(cleanup)  # leave the group cleanly at exit even when the script never calls cleanup()


def _shard_loader(loader: DataLoader, env: RankEnv, seed: int) -> DataLoader:
    if isinstance(loader, DistributedLoader) or isinstance(loader.sampler, DistributedSampler):
        return loader  # already sharded
    if isinstance(loader.dataset, IterableDataset):
        raise ValueError(
            "prepare() cannot shard an IterableDataset: split the stream by dist.rank() / dist.world_size() "
            "in the dataset itself and pass the loader unchanged (or not at all)"
        )
    if loader.batch_size is None or type(loader.batch_sampler) is not BatchSampler:
        raise ValueError(
            "prepare() shards DataLoaders built with batch_size=...; with a custom batch_sampler, build it "
            "over a torch.utils.data.DistributedSampler yourself"
        )
    sampler = loader.sampler
    if isinstance(sampler, RandomSampler):
        if sampler.replacement or sampler._num_samples is not None:
            raise ValueError("prepare() cannot shard a RandomSampler with replacement or num_samples")
        shuffle = True
    elif isinstance(sampler, SequentialSampler):
        shuffle = False
    else:
        raise ValueError(
            f"prepare() shards DataLoaders built with shuffle=True/False, not a {type(sampler).__name__}: "
            "give your loader a torch.utils.data.DistributedSampler yourself"
        )
    distributed_sampler = DistributedSampler(
        loader.dataset,
        num_replicas=env.world_size,
        rank=env.rank,
        shuffle=shuffle,
        seed=seed,
        drop_last=loader.drop_last,
    )
    options = {
        "batch_size": loader.batch_size,  # per rank: the global batch is world_size x this
        "sampler": distributed_sampler,
        "num_workers": loader.num_workers,
        "collate_fn": loader.collate_fn,
        "pin_memory": loader.pin_memory,
        "drop_last": loader.drop_last,
        "timeout": loader.timeout,
        "worker_init_fn": loader.worker_init_fn,
        "generator": loader.generator,
    }
    if loader.num_workers > 0:  # these are refused without workers
        options.update(
            multiprocessing_context=loader.multiprocessing_context,
            prefetch_factor=loader.prefetch_factor,
            persistent_workers=loader.persistent_workers,
        )
    return DistributedLoader(loader.dataset, **options)


def prepare(
    model: nn.Module,
    loader: Optional[DataLoader] = None,
    *,
    seed: int = 0,
    backend: Optional[str] = None,
    find_unused_parameters: bool = False,
    timeout_s: Optional[float] = None,
    environ: Optional[Mapping[str, str]] = None,
):
    """Returns ``(model, loader)`` ready for data-parallel training on this rank.

    - Joins the process group from the environment (``env://``): NCCL when the model is on a GPU, else gloo
      (``backend`` overrides). When the node's ranks would have to share a GPU (more ranks than GPUs, and
      no CUDA_VISIBLE_DEVICES per rank), NCCL cannot run them: gloo is used, with a warning.
    - GPU: moves the model to this rank's GPU (cuda:0 when CUDA_VISIBLE_DEVICES holds one device, else
      cuda:LOCAL_RANK) and makes it the current device, so ``.to("cuda")`` in the script lands there.
    - Seeds Python, NumPy and PyTorch with ``seed`` on every rank (DDP also copies rank 0's weights).
    - Wraps the model in :class:`DistributedModel` (DDP that still exposes the model's attributes).
    - Rebuilds ``loader`` over a DistributedSampler: same per-rank batch size (the global batch is
      WORLD_SIZE times it), shuffle and drop_last kept, the epoch advanced on each pass.

    Call it before creating the optimizer. With WORLD_SIZE unset or 1 it changes nothing.
    """
    env = _env(environ)
    if env.world_size <= 1:
        return model, loader
    if isinstance(model, DistributedDataParallel):  # prepared already: shard the loader only
        _init_process_group(env, backend or ("nccl" if _model_device(model).type == "cuda" else "gloo"), timeout_s)
        return model, (_shard_loader(loader, env, seed) if loader is not None else None)
    on_gpu = _model_device(model).type == "cuda" and torch.cuda.is_available()
    chosen = backend or ("nccl" if on_gpu else "gloo")
    if chosen == "nccl" and backend is None and _ranks_share_a_gpu(env, environ):
        warnings.warn(
            f"{env.local_world_size} ranks on this node share {torch.cuda.device_count()} GPU(s); NCCL needs one "
            "GPU per rank, so the ranks communicate over gloo (slower). Ask for one GPU per rank "
            "(--gpus-per-node equal to --procs-per-node) to use NCCL.",
            stacklevel=2,
        )
        chosen = "gloo"
    device_ids = None
    if on_gpu:
        device = _gpu_for(env)
        torch.cuda.set_device(device)
        model = model.to(device)
        device_ids = [device.index]
    _init_process_group(env, chosen, timeout_s)
    seed_everything(seed)
    wrapped = DistributedModel(model, device_ids=device_ids, find_unused_parameters=find_unused_parameters)
    return wrapped, (_shard_loader(loader, env, seed) if loader is not None else None)
