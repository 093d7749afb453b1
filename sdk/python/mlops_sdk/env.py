"""The workload environment contract (docs/jobs-and-workloads.md): what a job process is told about its run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional


def _http_url(value: Optional[str]) -> Optional[str]:
    # MLFLOW_TRACKING_URI may also be a local path or file: URI, which is not a server we can talk to.
    if value and value.startswith(("http://", "https://")):
        return value.rstrip("/")
    return None


@dataclass(frozen=True)
class WorkloadEnv:
    api_url: Optional[str] = None
    token: Optional[str] = None
    run_id: Optional[str] = None
    job_id: Optional[str] = None
    output_dir: Optional[str] = None
    tracking_uri: Optional[str] = None
    dataset_snapshot: Optional[str] = None
    base_model: Optional[str] = None

    @classmethod
    def from_environ(cls, environ: Optional[Mapping[str, str]] = None) -> "WorkloadEnv":
        env = os.environ if environ is None else environ
        get = lambda key: env.get(key) or None  # noqa: E731 - empty strings count as unset
        return cls(
            api_url=_http_url(get("MLOPS_API_URL")),
            token=get("MLOPS_TOKEN") or get("MLFLOW_TRACKING_TOKEN"),
            run_id=get("MLFLOW_RUN_ID") or get("MLOPS_RUN_ID"),
            job_id=get("MLOPS_JOB_ID"),
            output_dir=get("MLOPS_OUTPUT_DIR"),
            tracking_uri=_http_url(get("MLFLOW_TRACKING_URI")),
            dataset_snapshot=get("MLOPS_DATASET_SNAPSHOT"),
            base_model=get("MLOPS_BASE_MODEL"),
        )

    @property
    def server_url(self) -> Optional[str]:
        """Where the MLflow-compatible API lives: the tracking URI if given, else the platform URL."""
        return self.tracking_uri or self.api_url

    @property
    def in_job(self) -> bool:
        return self.run_id is not None and self.server_url is not None


def _int_env(env: Mapping[str, str], key: str, default: int, minimum: int) -> int:
    raw = env.get(key) or ""
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{key} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{key} must be >= {minimum}, got {value}")
    return value


_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class RankEnv:
    """Where this process sits in a distributed job: the torchrun environment the platform sets for every
    rank (docs/distributed-training.md). Without it: rank 0 of 1."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1
    node_rank: int = 0
    master_addr: Optional[str] = None
    master_port: Optional[int] = None
    rank_set: bool = False
    log_all_ranks: bool = False

    @classmethod
    def from_environ(cls, environ: Optional[Mapping[str, str]] = None) -> "RankEnv":
        env = os.environ if environ is None else environ
        world_size = _int_env(env, "WORLD_SIZE", 1, 1)
        rank = _int_env(env, "RANK", 0, 0)
        if rank >= world_size:
            raise ValueError(f"RANK {rank} is not below WORLD_SIZE {world_size}")
        port = _int_env(env, "MASTER_PORT", 0, 1)
        return cls(
            rank=rank,
            local_rank=_int_env(env, "LOCAL_RANK", 0, 0),
            world_size=world_size,
            local_world_size=_int_env(env, "LOCAL_WORLD_SIZE", 1, 1),
            node_rank=_int_env(env, "NODE_RANK", _int_env(env, "GROUP_RANK", 0, 0), 0),
            master_addr=env.get("MASTER_ADDR") or None,
            master_port=port or None,
            rank_set=bool(env.get("RANK")),
            log_all_ranks=(env.get("MLOPS_LOG_ALL_RANKS") or "").strip().lower() in _TRUE,
        )

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def parse_model_ref(ref: str) -> tuple[str, str]:
    """``NAME:VERSION`` or ``models:/NAME/VERSION`` -> (name, version). VERSION may be a number, a stage
    (Production, Staging, ...), ``latest`` or an alias."""
    if ref.startswith("models:/"):
        rest = ref[len("models:/"):]
        name, sep, version = rest.rpartition("/")
        if sep and name and version:
            return name, version
    else:
        name, sep, version = ref.rpartition(":")
        if sep and name and version:
            return name, version
    raise ValueError(f"not a model reference (expected NAME:VERSION or models:/NAME/VERSION): {ref!r}")
