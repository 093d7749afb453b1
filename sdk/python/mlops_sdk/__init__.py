"""Python SDK of the mlops platform (standard library only).

Inside a job it reads the workload environment (MLOPS_API_URL, MLOPS_TOKEN, MLOPS_RUN_ID, ...) and logs to
the job's run; outside a job it takes a URL and token; with neither it logs offline to JSON lines.
It talks to the platform's MLflow-compatible REST API, so it works whether or not ``mlflow`` is installed.
In a distributed job only rank 0 logs (``RankMutedRun`` on the others). ``mlops_sdk.distributed`` (imported
on its own, it needs PyTorch) turns a single-GPU script into a data-parallel one.
"""

from .client import Client
from .env import RankEnv, WorkloadEnv, parse_model_ref
from .errors import ApiError, MlopsError, OfflineError, ServerUnreachableError
from .run import OfflineRun, RankMutedRun, Run, start_run
from .snapshots import download_snapshot, snapshot_item_ids

__all__ = [
    "ApiError",
    "Client",
    "MlopsError",
    "OfflineError",
    "OfflineRun",
    "RankEnv",
    "RankMutedRun",
    "Run",
    "ServerUnreachableError",
    "WorkloadEnv",
    "download_snapshot",
    "parse_model_ref",
    "snapshot_item_ids",
    "start_run",
]
__version__ = "0.1.0"
