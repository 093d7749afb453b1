"""A tracking run: params, buffered metrics, tags and artifacts, online (MLflow REST API) or offline
(JSON lines in the output directory, so training code runs unchanged without a server).

In a distributed job every rank runs the same script, and only rank 0 logs: on the other ranks ``start_run``
returns a :class:`RankMutedRun` whose logging, artifact and registration calls do nothing (reads still work),
unless MLOPS_LOG_ALL_RANKS=1 or ``start_run(log_all_ranks=True)`` (docs/distributed-training.md)."""

from __future__ import annotations

import atexit
import json
import math
import os
import time
import uuid
import warnings
from typing import Any, Mapping, Optional

from .client import MAX_METRICS_PER_BATCH, Client, now_ms
from .env import RankEnv, WorkloadEnv
from .errors import OfflineError

DEFAULT_OUTPUT_DIR = "mlops-output"


def _finite(key: str, value: Any) -> Optional[float]:
    number = float(value)
    if math.isfinite(number):
        return number
    # JSON has no NaN/Infinity; a diverged loss should not crash the training script.
    warnings.warn(f"metric {key!r} has non-finite value {number}; not logged", stacklevel=3)
    return None


class _RunBase:
    run_id: Optional[str]
    offline: bool
    #: True on ranks other than 0 of a distributed job: nothing is logged (RankMutedRun).
    muted = False
    #: Appended to metric keys: "/rank<R>" when ranks other than 0 log too, so that ranks do not collide.
    metric_key_suffix = ""

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.end_run("FAILED" if exc_type is not None else "FINISHED")


class Run(_RunBase):
    """A run on the server. Inside a job the run already exists (``owns_run=False``): the platform records
    its final status from the process exit, so ``end_run`` only flushes."""

    offline = False

    def __init__(
        self,
        client: Client,
        run_id: str,
        *,
        owns_run: bool,
        flush_interval_s: float = 5.0,
        metric_key_suffix: str = "",
    ) -> None:
        self.client = client
        self.metric_key_suffix = metric_key_suffix
        self.run_id = run_id
        self.owns_run = owns_run
        self.flush_interval_s = flush_interval_s
        self._metrics: list[dict] = []
        self._last_flush = time.monotonic()
        self._ended = False
        atexit.register(self._flush_at_exit)

    def log_params(self, params: Mapping[str, Any]) -> None:
        # Sent at once so that a conflicting re-logged param fails where it is logged.
        self.client.log_batch(self.run_id, params=[{"key": k, "value": str(v)} for k, v in params.items()])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.client.log_batch(self.run_id, tags=[{"key": k, "value": str(v)} for k, v in tags.items()])

    def log_metric(self, key: str, value: Any, step: int = 0, timestamp: Optional[int] = None) -> None:
        number = _finite(key, value)
        if number is None:
            return
        ts = timestamp if timestamp is not None else now_ms()
        key = key + self.metric_key_suffix
        self._metrics.append({"key": key, "value": number, "timestamp": ts, "step": int(step)})
        due = time.monotonic() - self._last_flush >= self.flush_interval_s
        if len(self._metrics) >= MAX_METRICS_PER_BATCH or due:
            self.flush()

    def flush(self) -> None:
        pending, self._metrics = self._metrics, []
        self._last_flush = time.monotonic()
        if pending:
            try:
                self.client.log_batch(self.run_id, metrics=pending)
            except Exception:
                self._metrics = pending + self._metrics  # keep them for the next try
                raise

    def log_artifact(self, local_path: str, artifact_path: Optional[str] = None) -> None:
        self.client.log_artifact(self.run_id, local_path, artifact_path)

    def log_artifacts(self, local_dir: str, artifact_path: Optional[str] = None) -> int:
        return self.client.log_artifacts(self.run_id, local_dir, artifact_path)

    def download_artifacts(self, path: str, dest: str, run_id: Optional[str] = None) -> str:
        return self.client.download_artifacts(run_id or self.run_id, path, dest)

    def register_model(self, name: str, artifact_path: str = "model") -> dict:
        self.flush()
        return self.client.register_model(name, self.run_id, artifact_path)

    def get_model_version_download(self, name: str, version: str, dest: str) -> str:
        return self.client.get_model_version_download(name, version, dest)

    def end_run(self, status: str = "FINISHED") -> None:
        if self._ended:
            return
        self.flush()
        self._ended = True
        atexit.unregister(self._flush_at_exit)
        if self.owns_run:
            self.client.update_run(self.run_id, status)

    def _flush_at_exit(self) -> None:
        if not self._ended and self._metrics:
            self.flush()


class OfflineRun(_RunBase):
    """Records everything as JSON lines in ``<output_dir>/mlops-run.jsonl``; artifacts stay where they are
    and are recorded by path."""

    offline = True

    def __init__(self, output_dir: str, run_name: Optional[str] = None, *, metric_key_suffix: str = "") -> None:
        self.metric_key_suffix = metric_key_suffix
        self.output_dir = os.path.abspath(output_dir)
        os.makedirs(self.output_dir, exist_ok=True)
        self.run_id = uuid.uuid4().hex
        self.path = os.path.join(self.output_dir, "mlops-run.jsonl")
        self._ended = False
        self._write({"event": "start", "run_id": self.run_id, "run_name": run_name})

    def _write(self, record: dict) -> None:
        record = {"time": now_ms(), **record}
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._write({"event": "params", "params": {k: str(v) for k, v in params.items()}})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._write({"event": "tags", "tags": {k: str(v) for k, v in tags.items()}})

    def log_metric(self, key: str, value: Any, step: int = 0, timestamp: Optional[int] = None) -> None:
        number = _finite(key, value)
        if number is not None:
            ts = timestamp if timestamp is not None else now_ms()
            key = key + self.metric_key_suffix
            self._write({"event": "metric", "key": key, "value": number, "step": int(step), "timestamp": ts})

    def flush(self) -> None:
        """Lines are written as they come; nothing is buffered."""

    def log_artifact(self, local_path: str, artifact_path: Optional[str] = None) -> None:
        self._write({"event": "artifact", "local_path": os.path.abspath(local_path), "artifact_path": artifact_path})

    def log_artifacts(self, local_dir: str, artifact_path: Optional[str] = None) -> int:
        self.log_artifact(local_dir, artifact_path)
        return sum(len(files) for _, _, files in os.walk(local_dir))

    def download_artifacts(self, path: str, dest: str, run_id: Optional[str] = None) -> str:
        raise OfflineError("downloading artifacts needs a server (set MLOPS_API_URL)")

    def register_model(self, name: str, artifact_path: str = "model") -> dict:
        self._write({"event": "register_model", "name": name, "artifact_path": artifact_path})
        return {"name": name, "version": None, "offline": True}

    def get_model_version_download(self, name: str, version: str, dest: str) -> str:
        raise OfflineError(f"downloading model {name}:{version} needs a server (set MLOPS_API_URL)")

    def end_run(self, status: str = "FINISHED") -> None:
        if not self._ended:
            self._ended = True
            self._write({"event": "end", "status": status})


class RankMutedRun(_RunBase):
    """The run as seen from a rank other than 0 of a distributed job: params, metrics, tags, artifacts,
    model registration and the run's end are not logged (rank 0 does that for the job). Downloads still
    work, since every rank may need a base model or an artifact."""

    muted = True

    def __init__(self, rank: int, run_id: Optional[str], client: Optional[Client]) -> None:
        self.rank = rank
        self.run_id = run_id
        self.client = client
        self.offline = client is None

    def log_params(self, params: Mapping[str, Any]) -> None:
        pass

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        pass

    def log_metric(self, key: str, value: Any, step: int = 0, timestamp: Optional[int] = None) -> None:
        pass

    def flush(self) -> None:
        pass

    def log_artifact(self, local_path: str, artifact_path: Optional[str] = None) -> None:
        pass

    def log_artifacts(self, local_dir: str, artifact_path: Optional[str] = None) -> int:
        return 0

    def register_model(self, name: str, artifact_path: str = "model") -> dict:
        return {"name": name, "version": None, "skipped": f"rank {self.rank}: only rank 0 registers"}

    def end_run(self, status: str = "FINISHED") -> None:
        pass

    def download_artifacts(self, path: str, dest: str, run_id: Optional[str] = None) -> str:
        if self.client is None or (run_id or self.run_id) is None:
            raise OfflineError("downloading artifacts needs a server and a run (set MLOPS_API_URL)")
        return self.client.download_artifacts(run_id or self.run_id, path, dest)

    def get_model_version_download(self, name: str, version: str, dest: str) -> str:
        if self.client is None:
            raise OfflineError(f"downloading model {name}:{version} needs a server (set MLOPS_API_URL)")
        return self.client.get_model_version_download(name, version, dest)


def start_run(
    experiment_name: Optional[str] = None,
    run_name: Optional[str] = None,
    *,
    url: Optional[str] = None,
    token: Optional[str] = None,
    run_id: Optional[str] = None,
    output_dir: Optional[str] = None,
    tags: Optional[Mapping[str, Any]] = None,
    environ: Optional[Mapping[str, str]] = None,
    flush_interval_s: float = 5.0,
    log_all_ranks: Optional[bool] = None,
    **transport_options,
):
    """Inside a job: attaches to the job's run (from the environment). Outside: with ``url`` (or
    MLOPS_API_URL / MLFLOW_TRACKING_URI) creates a run in ``experiment_name``; with no server at all,
    returns an ``OfflineRun`` writing to ``output_dir`` (default MLOPS_OUTPUT_DIR or ./mlops-output).

    On ranks other than 0 of a distributed job (RANK, WORLD_SIZE) it returns a :class:`RankMutedRun` that
    logs nothing, unless ``log_all_ranks`` (default: MLOPS_LOG_ALL_RANKS=1); then those ranks log too, with
    their metric keys suffixed ``/rank<R>``."""
    env = WorkloadEnv.from_environ(environ)
    ranks = RankEnv.from_environ(environ)
    server = url or env.server_url
    other_rank = ranks.world_size > 1 and ranks.rank != 0
    if other_rank and not (ranks.log_all_ranks if log_all_ranks is None else log_all_ranks):
        client = Client(server, token or env.token, **transport_options) if server else None
        return RankMutedRun(ranks.rank, run_id or env.run_id, client)
    suffix = f"/rank{ranks.rank}" if other_rank else ""
    if server is None:
        run = OfflineRun(output_dir or env.output_dir or DEFAULT_OUTPUT_DIR, run_name, metric_key_suffix=suffix)
        if tags:
            run.set_tags(tags)
        return run
    client = Client(server, token or env.token, **transport_options)
    # An explicit URL outside a job means "my own run", unless a run id is given as well.
    attach_to = run_id or (env.run_id if url is None else None)
    if attach_to:
        run = Run(client, attach_to, owns_run=False, flush_interval_s=flush_interval_s, metric_key_suffix=suffix)
        if tags:
            run.set_tags(tags)
        return run
    experiment_id = client.get_or_create_experiment(experiment_name or "Default")
    info = client.create_run(experiment_id, run_name, dict(tags or {}))["info"]
    return Run(
        client, info["run_id"], owns_run=True, flush_interval_s=flush_interval_s, metric_key_suffix=suffix
    )
