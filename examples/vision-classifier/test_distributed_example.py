"""The distributed mode of the example: train_ddp.py is train_single_gpu.py plus exactly two lines, and it
trains on two gloo ranks launched with the torchrun environment (what the platform sets for each rank)."""

import difflib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import torch

import test_train  # not `from test_train import ...`: its test class would run twice
from model import load_checkpoint, model_from_checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))
TWO_LINES = ["+import mlops_sdk.distributed as dist", "+    model, loader = dist.prepare(model, loader)"]
RANK_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "NODE_RANK")


def read_lines(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return f.read().splitlines()


def free_port() -> int:
    """A free port below the ephemeral range, as the platform reserves MASTER_PORT: a port from the ephemeral
    range (binding port 0) is also the local port of any outgoing connection on this busy machine, and one
    taken before rank 0 binds it can leave the rendezvous waiting instead of failing."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()
    for _ in range(100):
        port = rng.randrange(20000, low) if low > 20100 else 0
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port below the ephemeral range")


def clean_env(extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in test_train.SERVER_ENV and k not in RANK_ENV}
    env.update(extra)
    return env


def run_two_ranks(args):
    """Both ranks as the platform runs them: if one fails, the other is killed (it would wait forever in a
    collective for its dead peer). -> [(exit code, output)]"""
    port = str(free_port())
    procs, logs = [], []
    for r in range(2):
        log = tempfile.TemporaryFile("w+")
        env = clean_env({
            "RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "NODE_RANK": "0",
            "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "GLOO_SOCKET_IFNAME": "lo",
        })
        logs.append(log)
        procs.append(subprocess.Popen(args, cwd=HERE, stdout=log, stderr=subprocess.STDOUT, text=True, env=env))
    deadline = time.monotonic() + 240  # ~5 s unloaded; torch imports crawl on a loaded machine
    while any(p.poll() is None for p in procs):
        if any(p.returncode not in (None, 0) for p in procs) or time.monotonic() > deadline:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        time.sleep(0.1)
    results = []
    for proc, log in zip(procs, logs):
        log.seek(0)
        results.append((proc.returncode, log.read()))
        log.close()
    return results


class TwoLineChangeTest(unittest.TestCase):
    def test_the_distributed_script_is_the_single_gpu_script_plus_two_lines(self):
        diff = difflib.unified_diff(read_lines("train_single_gpu.py"), read_lines("train_ddp.py"), lineterm="")
        changed = [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        self.assertEqual(changed, TWO_LINES)

    def test_the_readme_shows_that_diff(self):
        with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        shown = readme.split("```diff\n", 1)[1].split("```", 1)[0].splitlines()
        actual = difflib.unified_diff(
            read_lines("train_single_gpu.py"), read_lines("train_ddp.py"), "train_single_gpu.py", "train_ddp.py",
            lineterm="",
        )
        self.assertEqual(shown, list(actual))


class TwoRanksTest(unittest.TestCase):
    def test_two_gloo_ranks_train_and_only_rank_zero_logs(self):
        with tempfile.TemporaryDirectory() as tmp:
            data, out = os.path.join(tmp, "data"), os.path.join(tmp, "out")
            test_train.draw_dataset(data, ["circle", "square"], 24, seed=2)
            args = [sys.executable, os.path.join(HERE, "train_ddp.py"), "--data", data, "--epochs", "2",
                    "--width", "4", "--batch-size", "8", "--output", out]
            for attempt in range(3):
                results = run_two_ranks(args)
                # The free port can be taken by another process before rank 0 binds it: try another one.
                if attempt == 2 or not any("address already in use" in text.lower() for _, text in results):
                    break
            for code, output in results:
                self.assertEqual(code, 0, output)
                self.assertIn("epoch 2/2", output)
            with open(os.path.join(out, "mlops-run.jsonl"), encoding="utf-8") as f:
                events = [json.loads(line) for line in f]
            metrics = [e for e in events if e["event"] == "metric"]
            self.assertEqual(sum(e["event"] == "start" for e in events), 1)  # rank 1 opened no run
            self.assertEqual(sorted({e["step"] for e in metrics}), [1, 2])
            self.assertEqual(len(metrics), 6)  # 3 metrics x 2 epochs, from rank 0 only
            checkpoint = load_checkpoint(os.path.join(out, "checkpoint.pt"))
            self.assertFalse(any(k.startswith("module.") for k in checkpoint["state_dict"]))
            model = model_from_checkpoint(checkpoint)
            self.assertEqual(tuple(model(torch.zeros(1, 3, 32, 32)).shape), (1, 2))
            self.assertEqual([n for n in os.listdir(out) if n.endswith(".partial")], [])


if __name__ == "__main__":
    unittest.main()
