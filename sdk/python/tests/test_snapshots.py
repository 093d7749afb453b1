import hashlib
import json
import os
import tempfile
import unittest

from mlops_sdk import Client
from mlops_sdk.errors import MlopsError

from .fake_server import FakeServer, Reply

IMAGES = {name: f"png-bytes-{name}".encode() for name in ("a", "b", "c", "d")}
SHA = {name: hashlib.sha256(data).hexdigest() for name, data in IMAGES.items()}
MANIFEST = {
    "dataset": {"classes": ["cat", "dog"], "id": "ds", "name": "pets", "projectId": "p", "task": "classification"},
    "format": "mlops-snapshot/1",
    "items": [
        {"id": "i-a", "fileName": "a.png", "label": {"class": "cat"}, "sha256": SHA["a"], "split": "train"},
        {"id": "i-b", "fileName": "b.png", "label": {"class": "dog"}, "sha256": SHA["b"], "split": "train"},
        {"id": "i-c", "fileName": "c.png", "label": {"class": "dog"}, "sha256": SHA["c"], "split": "val"},
        {"id": "i-d", "fileName": "d.png", "label": {"class": "cat"}, "sha256": SHA["d"], "split": "holdout"},
    ],
    "splitCounts": {"holdout": 1, "train": 2, "val": 1},
}
MANIFEST_BYTES = json.dumps(MANIFEST).encode()
SNAPSHOT = hashlib.sha256(MANIFEST_BYTES).hexdigest()
BY_SHA = {SHA[name]: data for name, data in IMAGES.items()}


def routes(corrupt=False):
    def route(rec):
        if rec.path == f"/api/v1/snapshots/{SNAPSHOT}/manifest":
            return Reply(raw=MANIFEST_BYTES)
        prefix = f"/api/v1/snapshots/{SNAPSHOT}/blobs/"
        if rec.path.startswith(prefix):
            data = BY_SHA[rec.path[len(prefix):]]
            return Reply(raw=b"tampered" if corrupt else data)
        return Reply(404, {"error": {"code": "NOT_FOUND", "message": rec.path}})

    return route


class DownloadSnapshotTest(unittest.TestCase):
    def test_train_and_val_only_in_imagefolder_layout_never_holdout(self):
        with FakeServer(routes()) as server, tempfile.TemporaryDirectory() as dest:
            got = Client(server.url, token="tok").download_snapshot(SNAPSHOT, dest)
            self.assertEqual(got["id"], SNAPSHOT)
            self.assertEqual(got["counts"], {"train": 2, "val": 1})
            self.assertEqual(sorted(os.listdir(os.path.join(dest, "train", "cat"))), ["i-a.png"])
            self.assertEqual(sorted(os.listdir(os.path.join(dest, "val", "cat"))), [])  # every class folder exists
            self.assertFalse(os.path.exists(os.path.join(dest, "holdout")))
            fetched = [r.path for r in server.requests if "/blobs/" in r.path]
            self.assertNotIn(f"/api/v1/snapshots/{SNAPSHOT}/blobs/{SHA['d']}", fetched)
            self.assertTrue(all(r.headers.get("authorization") == "Bearer tok" for r in server.requests))
            # A second call finds the files in place and fetches no image again.
            before = len(server.requests)
            Client(server.url, token="tok").download_snapshot(SNAPSHOT, dest)
            self.assertEqual(len(server.requests), before + 1)  # the manifest only

    def test_a_corrupted_image_is_refused(self):
        with FakeServer(routes(corrupt=True)) as server, tempfile.TemporaryDirectory() as dest:
            with self.assertRaises(MlopsError):
                Client(server.url, token="tok").download_snapshot(SNAPSHOT, dest, splits=("holdout",))
