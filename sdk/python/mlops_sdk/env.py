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
