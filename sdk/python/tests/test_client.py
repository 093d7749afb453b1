import json
import os
import tempfile
import unittest

from mlops_sdk import ApiError, Client, ServerUnreachableError, start_run
from mlops_sdk.artifact_paths import proxy_path_from_uri
from mlops_sdk.errors import MlopsError

from .fake_server import FakeServer, Reply

ARTIFACT_URI = "mlflow-artifacts:/7/run1/artifacts"
RUN = {"info": {"run_id": "run1", "experiment_id": "7", "artifact_uri": ARTIFACT_URI, "status": "RUNNING"}}
FAST = {"backoff_s": 0.001, "max_backoff_s": 0.002}


def tracking_routes(rec):
    if rec.path.endswith("/runs/get"):
        return Reply(body={"run": RUN})
    if rec.path.endswith("/runs/create"):
        return Reply(body={"run": RUN})
    if rec.path.endswith("/experiments/get-by-name"):
        return Reply(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such experiment"})
    if rec.path.endswith("/experiments/create"):
        return Reply(body={"experiment_id": "7"})
    return None


class LogBatchTest(unittest.TestCase):
    def test_metrics_are_buffered_and_sent_in_batches_within_mlflow_limits(self):
        with FakeServer(tracking_routes) as server:
            run = start_run(url=server.url, token="tok", run_id="run1", flush_interval_s=3600, **FAST)
            for step in range(2500):
                run.log_metric("loss", 1.0 / (step + 1), step=step)
            # 2 full batches were flushed when the buffer filled; the rest waits for flush/end
            self.assertEqual(len(server.calls("/runs/log-batch")), 2)
            run.end_run()
            batches = [r.json() for r in server.calls("/runs/log-batch")]
        self.assertEqual([len(b["metrics"]) for b in batches], [1000, 1000, 500])
        first = batches[0]["metrics"][0]
        self.assertEqual(set(first), {"key", "value", "timestamp", "step"})
        self.assertEqual((first["key"], first["value"], first["step"]), ("loss", 1.0, 0))
        self.assertTrue(all(b["run_id"] == "run1" for b in batches))
        steps = [m["step"] for b in batches for m in b["metrics"]]
        self.assertEqual(steps, list(range(2500)))

    def test_params_and_tags_are_split_at_100_per_request_and_stringified(self):
        with FakeServer(tracking_routes) as server:
            client = Client(server.url, "tok", **FAST)
            params = [{"key": f"p{i}", "value": str(i)} for i in range(250)]
            tags = [{"key": f"t{i}", "value": "x"} for i in range(150)]
            metrics = [{"key": "m", "value": 1.0, "timestamp": 1, "step": i} for i in range(1500)]
            self.assertEqual(client.log_batch("run1", metrics, params, tags), 3)
            bodies = [r.json() for r in server.calls("/runs/log-batch")]
        for body in bodies:
            self.assertLessEqual(len(body["params"]), 100)
            self.assertLessEqual(len(body["tags"]), 100)
            self.assertLessEqual(len(body["metrics"]), 1000)
            self.assertLessEqual(len(body["params"]) + len(body["tags"]) + len(body["metrics"]), 1000)
        self.assertEqual(sum(len(b["params"]) for b in bodies), 250)
        self.assertEqual(sum(len(b["tags"]) for b in bodies), 150)
        self.assertEqual(sum(len(b["metrics"]) for b in bodies), 1500)

    def test_log_params_sends_strings_and_bearer_token(self):
        with FakeServer(tracking_routes) as server:
            run = start_run(url=server.url, token="secret", run_id="run1", **FAST)
            run.log_params({"lr": 0.01, "epochs": 3})
            run.set_tags({"team": "vision"})
            calls = server.calls("/runs/log-batch")
        self.assertEqual(calls[0].json()["params"], [{"key": "lr", "value": "0.01"}, {"key": "epochs", "value": "3"}])
        self.assertEqual(calls[1].json()["tags"], [{"key": "team", "value": "vision"}])
        self.assertTrue(all(r.headers["authorization"] == "Bearer secret" for r in server.requests))
        self.assertEqual(calls[0].path, "/api/2.0/mlflow/runs/log-batch")


class RunLifecycleTest(unittest.TestCase):
    def test_outside_a_job_creates_experiment_and_run_and_ends_it(self):
        with FakeServer(tracking_routes) as server:
            run = start_run("shapes", "first", url=server.url, token="t", environ={}, **FAST)
            run.log_metric("acc", 0.5, step=1)
            run.end_run("FINISHED")
            paths = [r.path.rsplit("/mlflow/", 1)[-1] for r in server.requests]
            create = server.calls("/runs/create")[0].json()
            update = server.calls("/runs/update")[0].json()
        self.assertEqual(paths, ["experiments/get-by-name", "experiments/create", "runs/create", "runs/log-batch", "runs/update"])
        self.assertEqual(server.calls("/experiments/get-by-name")[0].query, {"experiment_name": "shapes"})
        self.assertEqual(create["experiment_id"], "7")
        self.assertEqual(create["run_name"], "first")
        self.assertIsInstance(create["start_time"], int)
        self.assertEqual(update["status"], "FINISHED")
        self.assertEqual(update["run_id"], "run1")

    def test_inside_a_job_attaches_to_the_job_run_and_leaves_its_status_to_the_platform(self):
        environ = {"MLOPS_API_URL": "http://unused", "MLFLOW_TRACKING_URI": "", "MLOPS_TOKEN": "job-token",
                   "MLOPS_RUN_ID": "run1", "MLOPS_JOB_ID": "job9"}
        with FakeServer(tracking_routes) as server:
            environ["MLFLOW_TRACKING_URI"] = server.url
            run = start_run("ignored", environ=environ, **FAST)
            run.log_metric("acc", 0.9, step=2)
            run.end_run()
            paths = [r.path for r in server.requests]
        self.assertEqual(run.run_id, "run1")
        self.assertEqual(paths, ["/api/2.0/mlflow/runs/log-batch"])
        self.assertEqual(server.requests[0].headers["authorization"], "Bearer job-token")

    def test_context_manager_marks_failed_run(self):
        with FakeServer(tracking_routes) as server:
            with self.assertRaises(RuntimeError):
                with start_run("e", url=server.url, environ={}, **FAST):
                    raise RuntimeError("boom")
            self.assertEqual(server.calls("/runs/update")[0].json()["status"], "FAILED")


class RetryAndErrorTest(unittest.TestCase):
    def test_retries_5xx_then_succeeds(self):
        failures = {"left": 2}

        def route(rec):
            if failures["left"] > 0:
                failures["left"] -= 1
                return Reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"})
            return tracking_routes(rec)

        with FakeServer(route) as server:
            run = Client(server.url, **FAST).get_run("run1")
            self.assertEqual(len(server.requests), 3)
        self.assertEqual(run["info"]["run_id"], "run1")

    def test_client_errors_carry_mlflow_error_code_and_are_not_retried(self):
        def route(rec):
            return Reply(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "param lr already set"})

        with FakeServer(route) as server:
            with self.assertRaises(ApiError) as ctx:
                Client(server.url, **FAST).log_batch("run1", params=[{"key": "lr", "value": "1"}])
            self.assertEqual(len(server.requests), 1)
        self.assertEqual(ctx.exception.error_code, "INVALID_PARAMETER_VALUE")
        self.assertEqual(ctx.exception.status, 400)
        self.assertIn("param lr already set", str(ctx.exception))

    def test_unreachable_server_raises_after_retries(self):
        with FakeServer(lambda rec: None) as server:
            url = server.url
        with self.assertRaises(ServerUnreachableError):
            Client(url, max_retries=2, **FAST).get_run("run1")


class ArtifactTest(unittest.TestCase):
    def test_artifact_uri_maps_to_proxy_path(self):
        self.assertEqual(proxy_path_from_uri("mlflow-artifacts:/7/r/artifacts"), "7/r/artifacts")
        self.assertEqual(proxy_path_from_uri("mlflow-artifacts://host:5000/7/r/artifacts/"), "7/r/artifacts")
        self.assertEqual(
            proxy_path_from_uri("http://h/api/2.0/mlflow-artifacts/artifacts/7/r/artifacts"), "7/r/artifacts"
        )
        with self.assertRaises(MlopsError):
            proxy_path_from_uri("s3://bucket/x")
        with self.assertRaises(MlopsError):
            proxy_path_from_uri("mlflow-artifacts:/../etc")

    def test_log_artifacts_puts_each_file_below_the_run_artifact_root(self):
        with tempfile.TemporaryDirectory() as tmp, FakeServer(tracking_routes) as server:
            model = os.path.join(tmp, "model")
            os.makedirs(os.path.join(model, "sub"))
            for rel, data in (("model.onnx", b"onnx"), ("model.json", b"{}"), ("sub/a b.txt", b"x")):
                with open(os.path.join(model, rel), "wb") as f:
                    f.write(data)
            run = start_run(url=server.url, run_id="run1", **FAST)
            self.assertEqual(run.log_artifacts(model, "model"), 3)
            run.log_artifact(os.path.join(model, "model.json"), "extra")
            puts = {r.path: r.body for r in server.requests if r.method == "PUT"}
        prefix = "/api/2.0/mlflow-artifacts/artifacts/7/run1/artifacts/"
        self.assertEqual(
            puts,
            {prefix + "model/model.onnx": b"onnx", prefix + "model/model.json": b"{}",
             prefix + "model/sub/a b.txt": b"x", prefix + "extra/model.json": b"{}"},
        )

    def test_download_artifacts_walks_the_listing(self):
        tree = {
            "7/run1/artifacts/model": [
                {"path": "model/model.onnx", "is_dir": False, "file_size": 4},
                {"path": "sub", "is_dir": True},
            ],
            "7/run1/artifacts/model/sub": [{"path": "c.txt", "is_dir": False, "file_size": 1}],
        }
        blobs = {"7/run1/artifacts/model/model.onnx": b"onnx", "7/run1/artifacts/model/sub/c.txt": b"c"}

        def route(rec):
            if rec.path == "/api/2.0/mlflow-artifacts/artifacts" and rec.method == "GET":
                return Reply(body={"files": tree.get(rec.query["path"], [])})
            prefix = "/api/2.0/mlflow-artifacts/artifacts/"
            if rec.path.startswith(prefix):
                return Reply(raw=blobs[rec.path[len(prefix):]])
            return tracking_routes(rec)

        with tempfile.TemporaryDirectory() as tmp, FakeServer(route) as server:
            local = Client(server.url, **FAST).download_artifacts("run1", "model", tmp)
            self.assertEqual(local, os.path.join(tmp, "model"))
            with open(os.path.join(local, "model.onnx"), "rb") as f:
                self.assertEqual(f.read(), b"onnx")
            with open(os.path.join(local, "sub", "c.txt"), "rb") as f:
                self.assertEqual(f.read(), b"c")

    def test_listing_that_escapes_the_destination_is_refused(self):
        def route(rec):
            if rec.path == "/api/2.0/mlflow-artifacts/artifacts":
                return Reply(body={"files": [{"path": "..", "is_dir": True}]})
            return tracking_routes(rec)

        with tempfile.TemporaryDirectory() as tmp, FakeServer(route) as server:
            with self.assertRaises(MlopsError):
                Client(server.url, **FAST).download_artifacts("run1", "model", tmp)


class RegistryTest(unittest.TestCase):
    def test_register_model_ignores_existing_model_and_points_at_the_run_artifacts(self):
        def route(rec):
            if rec.path.endswith("/registered-models/create"):
                return Reply(400, {"error_code": "RESOURCE_ALREADY_EXISTS", "message": "exists"})
            if rec.path.endswith("/model-versions/create"):
                return Reply(body={"model_version": {"name": "shapes", "version": "3"}})
            return tracking_routes(rec)

        with FakeServer(route) as server:
            version = start_run(url=server.url, run_id="run1", **FAST).register_model("shapes")
            create = server.calls("/model-versions/create")[0].json()
        self.assertEqual(version["version"], "3")
        self.assertEqual(create, {"name": "shapes", "source": ARTIFACT_URI + "/model", "run_id": "run1"})

    def test_get_model_version_download_fetches_the_version_source(self):
        def route(rec):
            if rec.path.endswith("/model-versions/get"):
                return Reply(body={"model_version": {"name": "shapes", "version": "2", "source": ARTIFACT_URI + "/model"}})
            if rec.path.endswith("/registered-models/alias"):
                return Reply(body={"model_version": {"name": "shapes", "version": "2", "source": ARTIFACT_URI + "/model"}})
            if rec.path == "/api/2.0/mlflow-artifacts/artifacts":
                files = [{"path": "model.json", "is_dir": False}] if rec.query["path"].endswith("/model") else []
                return Reply(body={"files": files})
            if rec.path.endswith("/model/model.json"):
                return Reply(raw=b'{"classes": []}')
            return tracking_routes(rec)

        with tempfile.TemporaryDirectory() as tmp, FakeServer(route) as server:
            client = Client(server.url, **FAST)
            dest = client.get_model_version_download("shapes", "2", os.path.join(tmp, "v2"))
            with open(os.path.join(dest, "model.json")) as f:
                self.assertEqual(json.load(f), {"classes": []})
            self.assertEqual(server.calls("/model-versions/get")[0].query, {"name": "shapes", "version": "2"})
            client.get_model_version_download("shapes", "champion", os.path.join(tmp, "alias"))
            self.assertEqual(server.calls("/registered-models/alias")[0].query, {"name": "shapes", "alias": "champion"})


if __name__ == "__main__":
    unittest.main()
