import json
import os
import tempfile
import unittest

from mlops_sdk import OfflineError, WorkloadEnv, parse_model_ref, start_run


class OfflineTest(unittest.TestCase):
    def test_without_a_server_everything_goes_to_json_lines(self):
        with tempfile.TemporaryDirectory() as tmp:
            run = start_run("e", environ={"MLOPS_OUTPUT_DIR": tmp})
            self.assertTrue(run.offline)
            run.log_params({"lr": 0.1})
            run.log_metric("val_accuracy", 0.75, step=2)
            run.log_metric("loss", float("nan"), step=2)  # dropped with a warning, not a crash
            run.log_artifacts(tmp, "model")
            self.assertIsNone(run.register_model("shapes")["version"])
            with self.assertRaises(OfflineError):
                run.get_model_version_download("shapes", "1", tmp)
            run.end_run()
            with open(os.path.join(tmp, "mlops-run.jsonl")) as f:
                events = [json.loads(line) for line in f]
        kinds = [e["event"] for e in events]
        self.assertEqual(kinds, ["start", "params", "metric", "artifact", "register_model", "end"])
        self.assertEqual(events[1]["params"], {"lr": "0.1"})
        self.assertEqual((events[2]["key"], events[2]["value"], events[2]["step"]), ("val_accuracy", 0.75, 2))


class EnvTest(unittest.TestCase):
    def test_reads_the_workload_contract(self):
        env = WorkloadEnv.from_environ({
            "MLOPS_API_URL": "http://cp:8080/", "MLOPS_TOKEN": "t", "MLOPS_RUN_ID": "r", "MLOPS_JOB_ID": "j",
            "MLOPS_OUTPUT_DIR": "/out", "MLOPS_DATASET_SNAPSHOT": "snap1", "MLOPS_BASE_MODEL": "shapes:3",
        })
        self.assertEqual(env.server_url, "http://cp:8080")
        self.assertEqual((env.token, env.run_id, env.job_id, env.output_dir), ("t", "r", "j", "/out"))
        self.assertEqual((env.dataset_snapshot, env.base_model), ("snap1", "shapes:3"))
        self.assertTrue(env.in_job)

    def test_tracking_uri_wins_and_local_paths_are_not_servers(self):
        env = WorkloadEnv.from_environ({"MLOPS_API_URL": "http://a", "MLFLOW_TRACKING_URI": "http://b"})
        self.assertEqual(env.server_url, "http://b")
        self.assertIsNone(WorkloadEnv.from_environ({"MLFLOW_TRACKING_URI": "./mlruns"}).server_url)

    def test_model_refs(self):
        self.assertEqual(parse_model_ref("shapes:3"), ("shapes", "3"))
        self.assertEqual(parse_model_ref("models:/shapes/Production"), ("shapes", "Production"))
        with self.assertRaises(ValueError):
            parse_model_ref("shapes")


if __name__ == "__main__":
    unittest.main()
