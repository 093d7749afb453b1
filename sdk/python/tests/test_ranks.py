"""Rank-0 logging: on other ranks of a distributed job start_run logs nothing unless asked."""

import json
import os
import tempfile
import unittest

from mlops_sdk import RankEnv, RankMutedRun, start_run
from tests.fake_server import FakeServer


def rank_env(rank: int, **extra) -> dict:
    return {"RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank), **extra}


class RankEnvTest(unittest.TestCase):
    def test_reads_the_torchrun_environment(self):
        env = RankEnv.from_environ({
            "RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2", "GROUP_RANK": "1",
            "MASTER_ADDR": "node-0", "MASTER_PORT": "29500",
        })
        self.assertEqual((env.rank, env.local_rank, env.world_size, env.local_world_size), (3, 1, 4, 2))
        self.assertEqual((env.node_rank, env.master_addr, env.master_port, env.is_main), (1, "node-0", 29500, False))
        self.assertEqual(RankEnv.from_environ({}), RankEnv())

    def test_bad_values_are_clear_errors(self):
        with self.assertRaisesRegex(ValueError, "WORLD_SIZE must be an integer, got 'two'"):
            RankEnv.from_environ({"WORLD_SIZE": "two"})
        with self.assertRaisesRegex(ValueError, "RANK must be >= 0"):
            RankEnv.from_environ({"WORLD_SIZE": "2", "RANK": "-1"})


class RankZeroLoggingTest(unittest.TestCase):
    def test_offline_only_rank_zero_writes(self):
        with tempfile.TemporaryDirectory() as tmp:
            for rank in (0, 1):
                run = start_run("e", environ=rank_env(rank, MLOPS_OUTPUT_DIR=tmp))
                run.log_params({"rank": rank})
                run.log_metric("loss", 1.0 + rank, step=1)
                self.assertEqual(run.register_model("m").get("version"), None)
                run.end_run()
                self.assertEqual(run.muted, rank == 1)
            with open(os.path.join(tmp, "mlops-run.jsonl")) as f:
                events = [json.loads(line) for line in f]
        self.assertEqual([e["event"] for e in events], ["start", "params", "metric", "register_model", "end"])
        self.assertEqual(events[1]["params"], {"rank": "0"})

    def test_in_a_job_other_ranks_send_nothing_but_can_still_download(self):
        with FakeServer(lambda rec: None) as server:
            env = rank_env(1, MLOPS_API_URL=server.url, MLOPS_TOKEN="t", MLOPS_RUN_ID="run1")
            run = start_run(environ=env)
            self.assertIsInstance(run, RankMutedRun)
            self.assertEqual(run.run_id, "run1")
            run.log_params({"a": 1})
            run.log_metrics({"loss": 0.5}, step=1)
            run.set_tags({"t": "x"})
            self.assertEqual(run.log_artifacts(tempfile.gettempdir(), "model"), 0)
            self.assertIn("rank 1", run.register_model("m")["skipped"])
            run.end_run()
            self.assertEqual(server.requests, [])
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    run.download_artifacts("model", tmp)
                except Exception:  # noqa: BLE001 - the fake server knows no artifacts; the call is what counts
                    pass
            self.assertTrue(server.requests)
            self.assertFalse(server.calls("runs/log-batch"))

    def test_log_all_ranks_logs_with_rank_suffixed_metric_keys(self):
        with FakeServer(lambda rec: None) as server:
            env = rank_env(1, MLOPS_API_URL=server.url, MLOPS_TOKEN="t", MLOPS_RUN_ID="run1",
                           MLOPS_LOG_ALL_RANKS="1")
            run = start_run(environ=env)
            self.assertFalse(run.muted)
            run.log_metric("loss", 0.5, step=2)
            run.end_run()
            explicit = start_run(environ={**env, "MLOPS_LOG_ALL_RANKS": ""}, log_all_ranks=True)
            explicit.log_metric("acc", 1.0)
            explicit.end_run()
        keys = [m["key"] for r in server.calls("runs/log-batch") for m in r.json().get("metrics", [])]
        self.assertEqual(keys, ["loss/rank1", "acc/rank1"])


if __name__ == "__main__":
    unittest.main()
