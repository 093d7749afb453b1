"""A small client for the MLflow REST API (tracking, artifact proxy, registry) as the platform serves it
under ``/api/2.0/mlflow/`` and ``/api/2.0/mlflow-artifacts/``."""

from __future__ import annotations

import os
import re
import time
from typing import Iterable, Mapping, Optional

from . import artifact_paths as ap
from .env import WorkloadEnv
from .errors import ApiError, MlopsError, OfflineError
from .transport import Transport

API = "/api/2.0/mlflow"
# MLflow's limits for one runs/log-batch request.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_ENTRIES_PER_BATCH = 1000

_STAGES = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}


def now_ms() -> int:
    return int(time.time() * 1000)


class Client:
    def __init__(self, url: str, token: Optional[str] = None, **transport_options) -> None:
        self.transport = Transport(url, token, **transport_options)
        self._artifact_roots: dict[str, str] = {}

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **transport_options) -> "Client":
        env = WorkloadEnv.from_environ(environ)
        if env.server_url is None:
            raise OfflineError("no server configured: set MLOPS_API_URL or MLFLOW_TRACKING_URI")
        return cls(env.server_url, env.token, **transport_options)

    def _call(self, method: str, endpoint: str, body: Optional[dict] = None, query: Optional[dict] = None):
        return self.transport.json(method, f"{API}/{endpoint}", body=body, query=query)

    # ---- experiments and runs -------------------------------------------------------------------------

    def get_or_create_experiment(self, name: str) -> str:
        try:
            return self._call("GET", "experiments/get-by-name", query={"experiment_name": name})["experiment"][
                "experiment_id"
            ]
        except ApiError as err:
            if err.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
        try:
            return self._call("POST", "experiments/create", {"name": name})["experiment_id"]
        except ApiError as err:
            if err.error_code != "RESOURCE_ALREADY_EXISTS":  # created concurrently by someone else
                raise
            return self._call("GET", "experiments/get-by-name", query={"experiment_name": name})["experiment"][
                "experiment_id"
            ]

    def create_run(self, experiment_id: str, run_name: Optional[str] = None, tags: Optional[dict] = None) -> dict:
        body: dict = {"experiment_id": experiment_id, "start_time": now_ms()}
        if run_name:
            body["run_name"] = run_name
        if tags:
            body["tags"] = [{"key": k, "value": str(v)} for k, v in tags.items()]
        return self._call("POST", "runs/create", body)["run"]

    def get_run(self, run_id: str) -> dict:
        return self._call("GET", "runs/get", query={"run_id": run_id})["run"]

    def update_run(self, run_id: str, status: str, end_time: Optional[int] = None) -> dict:
        body = {"run_id": run_id, "status": status, "end_time": end_time if end_time is not None else now_ms()}
        return self._call("POST", "runs/update", body).get("run_info", {})

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[dict] = (),
        params: Iterable[dict] = (),
        tags: Iterable[dict] = (),
    ) -> int:
        """Sends everything in as many requests as MLflow's limits require; returns the request count."""
        metrics, params, tags = list(metrics), list(params), list(tags)
        requests = 0
        while metrics or params or tags:
            p, params = params[:MAX_PARAMS_PER_BATCH], params[MAX_PARAMS_PER_BATCH:]
            t, tags = tags[:MAX_TAGS_PER_BATCH], tags[MAX_TAGS_PER_BATCH:]
            room = min(MAX_METRICS_PER_BATCH, MAX_ENTRIES_PER_BATCH - len(p) - len(t))
            m, metrics = metrics[:room], metrics[room:]
            self._call("POST", "runs/log-batch", {"run_id": run_id, "metrics": m, "params": p, "tags": t})
            requests += 1
        return requests

    # ---- artifacts ------------------------------------------------------------------------------------

    def artifact_root(self, run_id: str) -> str:
        """The run's artifact directory below the proxy, e.g. ``1/<run_id>/artifacts``."""
        if run_id not in self._artifact_roots:
            info = self.get_run(run_id)["info"]
            uri = info.get("artifact_uri")
            if not uri:
                raise MlopsError(f"run {run_id} has no artifact_uri")
            self._artifact_roots[run_id] = ap.proxy_path_from_uri(uri)
        return self._artifact_roots[run_id]

    def log_artifact(self, run_id: str, local_path: str, artifact_path: Optional[str] = None) -> None:
        """Uploads a file to ``artifact_path/<file name>`` (MLflow's semantics); a directory is uploaded
        as ``artifact_path/<directory name>/...``."""
        name = os.path.basename(os.path.normpath(local_path))
        if os.path.isdir(local_path):
            self.log_artifacts(run_id, local_path, ap.join(artifact_path or "", name))
            return
        target = ap.join(self.artifact_root(run_id), artifact_path or "", name)
        self.transport.put_file(ap.proxy_url_path(target), local_path)

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: Optional[str] = None) -> int:
        """Uploads the contents of a directory below ``artifact_path``; returns the number of files."""
        root = self.artifact_root(run_id)
        uploaded = 0
        for dirpath, dirnames, filenames in os.walk(local_dir):
            dirnames.sort()
            rel = os.path.relpath(dirpath, local_dir).replace(os.sep, "/")
            for filename in sorted(filenames):
                target = ap.join(root, artifact_path or "", "" if rel == "." else rel, filename)
                self.transport.put_file(ap.proxy_url_path(target), os.path.join(dirpath, filename))
                uploaded += 1
        return uploaded

    def list_artifacts_at(self, proxy_path: str) -> list[dict]:
        """Entries ``{path, is_dir, file_size}`` directly below a proxy path (paths as the server gives them)."""
        reply = self.transport.json("GET", ap.PROXY_PREFIX, query={"path": proxy_path})
        return list(reply.get("files", []))

    def list_artifacts(self, run_id: str, path: str = "") -> list[dict]:
        return self.list_artifacts_at(ap.join(self.artifact_root(run_id), path))

    def download_artifacts(self, run_id: str, path: str, dest: str) -> str:
        """Downloads a run's file or directory ``path`` to ``dest/path``; returns that local path."""
        local = os.path.join(dest, *[p for p in path.split("/") if p])
        return self._download_tree(ap.join(self.artifact_root(run_id), path), local)

    def download_uri(self, uri: str, dest: str) -> str:
        """Downloads what an artifact URI (``mlflow-artifacts:/...`` or ``runs:/<run_id>/<path>``) names."""
        if uri.startswith("runs:/"):
            run_id, _, path = uri[len("runs:/"):].partition("/")
            return self._download_tree(ap.join(self.artifact_root(run_id), path), dest)
        return self._download_tree(ap.proxy_path_from_uri(uri), dest)

    def _download_tree(self, proxy_path: str, dest: str) -> str:
        try:
            entries = self.list_artifacts_at(proxy_path)
        except ApiError as err:
            if err.status != 404:
                raise
            entries = []  # some servers answer 404 when the path is a file rather than a directory
        if not entries:
            os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
            self.transport.get_to_file(ap.proxy_url_path(proxy_path), dest)
            return dest
        os.makedirs(dest, exist_ok=True)
        for entry in entries:
            name = ap.safe_child_name(str(entry["path"]))
            child = ap.join(proxy_path, name)
            if entry.get("is_dir"):
                self._download_tree(child, os.path.join(dest, name))
            else:
                self.transport.get_to_file(ap.proxy_url_path(child), os.path.join(dest, name))
        return dest

    # ---- registry -------------------------------------------------------------------------------------

    def register_model(self, name: str, run_id: str, artifact_path: str = "model") -> dict:
        """Creates the registered model if needed and a new version from the run's ``artifact_path``;
        returns the model version (``version`` is a string, as in MLflow)."""
        try:
            self._call("POST", "registered-models/create", {"name": name})
        except ApiError as err:
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        info = self.get_run(run_id)["info"]
        source = info["artifact_uri"].rstrip("/") + "/" + artifact_path.strip("/")
        body = {"name": name, "source": source, "run_id": run_id}
        return self._call("POST", "model-versions/create", body)["model_version"]

    def get_model_version(self, name: str, version: str) -> dict:
        """``version``: a number, a stage name (``Production``...), ``latest``, or an alias."""
        version = str(version)
        if re.fullmatch(r"\d+", version):
            return self._call("GET", "model-versions/get", query={"name": name, "version": version})[
                "model_version"
            ]
        stage = _STAGES.get(version.lower())
        if stage is not None or version.lower() == "latest":
            body: dict = {"name": name}
            if stage is not None:
                body["stages"] = [stage]
            found = self._call("POST", "registered-models/get-latest-versions", body).get("model_versions", [])
            if not found:
                raise MlopsError(f"model {name!r} has no version in {version!r}")
            return max(found, key=lambda mv: int(mv["version"]))
        return self._call("GET", "registered-models/alias", query={"name": name, "alias": version})[
            "model_version"
        ]

    # ---- datasets -------------------------------------------------------------------------------------

    def download_snapshot(self, snapshot_id: str, dest: str, splits=("train", "val"), workers: int = 8) -> dict:
        """Downloads a dataset snapshot's manifest and the images of ``splits`` (verified by sha256) into
        ``dest`` (see ``mlops_sdk.snapshots``). Training jobs take train and val only, never holdout."""
        from .snapshots import fetch_snapshot

        return fetch_snapshot(self.transport, snapshot_id, dest, splits, workers)

    def get_model_version_download(self, name: str, version: str, dest: str) -> str:
        """Downloads a model version's files (its ``source``) into ``dest``; returns ``dest``."""
        model_version = self.get_model_version(name, version)
        return self.download_uri(model_version["source"], dest)
