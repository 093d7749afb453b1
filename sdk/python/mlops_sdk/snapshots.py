"""Dataset snapshots for training jobs: the manifest (verified against the snapshot id, which is its sha256)
and the images of the chosen splits (each verified against its sha256), written in the same layout as
``mlops data export``: ``<dest>/manifest.json`` and, for classification, ``<dest>/<split>/<class>/<item id><ext>``
(every class folder exists in every chosen split, so ImageFolder class indices agree); for detection
``<dest>/<split>/<item id><ext>`` plus ``<dest>/<split>/annotations.json``.

A training job asks for ``("train", "val")`` only: the holdout split stays unseen until evaluation."""

from __future__ import annotations

import hashlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Optional

from .errors import MlopsError
from .transport import Transport

SPLITS = ("train", "val", "holdout")
_EXT = re.compile(r"^\.[a-z0-9]{1,5}$")


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _safe_name(name: str) -> str:
    name = re.sub(r"[/\\\0]", "_", name)
    return "_" if re.fullmatch(r"\.+", name) else name


def _extension(item: dict) -> str:
    ext = os.path.splitext(item.get("fileName") or "")[1].lower()
    return ext if _EXT.match(ext) else ".png"


def fetch_snapshot(
    transport: Transport,
    snapshot_id: str,
    dest: str,
    splits: Iterable[str] = ("train", "val"),
    workers: int = 8,
) -> dict:
    """Downloads a snapshot; returns ``{"id", "manifest", "dest", "splits": {split: dir}, "counts", "classes",
    "task", "skipped_url_items"}``. Files already present with the right content are not fetched again."""
    splits = tuple(splits)
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ValueError(f"unknown split(s) {unknown}: use {SPLITS}")
    os.makedirs(dest, exist_ok=True)
    manifest_path = os.path.join(dest, "manifest.json")
    transport.get_to_file(f"/api/v1/snapshots/{snapshot_id}/manifest", manifest_path)
    actual = _sha256_file(manifest_path)
    # An abbreviated id is a prefix of the full one.
    if not actual.startswith(snapshot_id.lower()):
        raise MlopsError(f"snapshot {snapshot_id}: manifest hashes to {actual}, not to its id")
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    dataset = manifest["dataset"]
    classification = dataset["task"] == "classification"
    dirs = {split: os.path.join(dest, split) for split in splits}
    for split in splits:
        if classification:
            for cls in dataset["classes"]:
                os.makedirs(os.path.join(dirs[split], _safe_name(cls)), exist_ok=True)
        else:
            os.makedirs(dirs[split], exist_ok=True)

    jobs, annotations, skipped = [], {split: [] for split in splits}, 0
    counts = {split: 0 for split in splits}
    for item in manifest["items"]:
        if item["split"] not in dirs:
            continue
        if not item.get("sha256"):
            skipped += 1  # URL items: a job that wants them fetches them itself
            continue
        name = f"{item['id']}{_extension(item)}"
        if classification:
            path = os.path.join(dirs[item["split"]], _safe_name(item["label"]["class"]), name)
        else:
            path = os.path.join(dirs[item["split"]], name)
            annotations[item["split"]].append({"file": name, "boxes": item["label"].get("boxes", [])})
        counts[item["split"]] += 1
        jobs.append((item["sha256"], path))

    def fetch(job) -> None:
        sha256, path = job
        if os.path.isfile(path) and _sha256_file(path) == sha256:
            return
        transport.get_to_file(f"/api/v1/snapshots/{snapshot_id}/blobs/{sha256}", path)
        if _sha256_file(path) != sha256:
            os.remove(path)
            raise MlopsError(f"image {sha256} of snapshot {snapshot_id} arrived corrupted")

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for _ in pool.map(fetch, jobs):
            pass
    if not classification:
        for split in splits:
            with open(os.path.join(dirs[split], "annotations.json"), "w", encoding="utf-8") as f:
                json.dump(annotations[split], f)
    return {
        "id": actual,
        "manifest": manifest,
        "dest": dest,
        "splits": dirs,
        "counts": counts,
        "classes": list(dataset["classes"]),
        "task": dataset["task"],
        "skipped_url_items": skipped,
    }


def download_snapshot(
    snapshot_id: Optional[str] = None,
    dest: str = "snapshot",
    splits: Iterable[str] = ("train", "val"),
    client=None,
    workers: int = 8,
) -> dict:
    """The convenient form inside a job: the snapshot defaults to ``MLOPS_DATASET_SNAPSHOT`` and the client to
    the workload environment (``Client.from_env()``)."""
    snapshot_id = snapshot_id or default_snapshot()
    if not snapshot_id:
        raise MlopsError("no snapshot given and MLOPS_DATASET_SNAPSHOT is not set")
    if client is None:
        from .client import Client

        client = Client.from_env()
    return fetch_snapshot(client.transport, snapshot_id, dest, splits, workers)


def snapshot_item_ids(manifest: dict, split: str) -> list:
    """Item ids of one split, sorted (what an evaluation on that split covers)."""
    return sorted(item["id"] for item in manifest["items"] if item["split"] == split)


def default_snapshot(environ: Optional[dict] = None) -> Optional[str]:
    env = os.environ if environ is None else environ
    return env.get("MLOPS_DATASET_SNAPSHOT") or None
