"""mlops_sdk.distributed with real processes: two gloo ranks launched with the torchrun environment (as the
platform launches them) against a single-process run of the same script."""

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import unittest

try:
    import torch
except ImportError:  # the SDK itself needs no torch; its distributed module does
    torch = None
    if os.environ.get("CI") == "true":
        raise

HERE = os.path.dirname(os.path.abspath(__file__))
SDK_DIR = os.path.dirname(HERE)
WORKER = os.path.join(HERE, "ddp_worker.py")
# Generous: importing torch takes 15 s on a loaded 2-core machine; a healthy run takes about 5 s.
TIMEOUT_S = 240


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


def worker_env(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env["PYTHONPATH"] = SDK_DIR
    env.update(extra)
    return env


def launch_gang(commands, envs, timeout_s: float):
    """Starts one process per rank and waits like the platform does: when one rank fails, the others are
    killed (a rank waiting in a collective for a dead peer would wait forever). -> [(code, stdout, stderr)]"""
    with tempfile.TemporaryDirectory() as tmp:
        files, procs = [], []
        for i, (command, env) in enumerate(zip(commands, envs)):
            out, err = open(os.path.join(tmp, f"{i}.out"), "w+"), open(os.path.join(tmp, f"{i}.err"), "w+")
            files.append((out, err))
            procs.append(subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True))
        deadline = time.monotonic() + timeout_s
        while any(p.poll() is None for p in procs):
            failed = any(p.returncode not in (None, 0) for p in procs)
            if failed or time.monotonic() > deadline:
                for p in procs:
                    if p.poll() is None:
                        p.kill()
            time.sleep(0.1)
        results = []
        for proc, (out, err) in zip(procs, files):
            out.seek(0)
            err.seek(0)
            results.append((proc.returncode, out.read(), err.read()))
            out.close()
            err.close()
        return results


def run_ranks(world: int, batch_size: int) -> list:
    for attempt in range(3):
        port = str(free_port())
        envs = [
            worker_env({
                "RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": str(world), "LOCAL_WORLD_SIZE": str(world),
                "NODE_RANK": "0", "GROUP_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port,
                "GLOO_SOCKET_IFNAME": "lo",
            })
            for r in range(world)
        ]
        results = launch_gang([[sys.executable, WORKER, str(batch_size)]] * world, envs, TIMEOUT_S)
        if all(code == 0 for code, _, _ in results):
            return [json.loads(out.strip().splitlines()[-1]) for _, out, _ in results]
        # The free port can be taken by another process before rank 0 binds it: try another one.
        if attempt == 2 or not any("address already in use" in err.lower() for _, _, err in results):
            raise AssertionError(f"ranks failed: {results}")
    raise AssertionError("unreachable")


def run_single(batch_size: int) -> dict:
    out = subprocess.run(
        [sys.executable, WORKER, str(batch_size)], env=worker_env({}), capture_output=True, text=True,
        timeout=TIMEOUT_S, check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@unittest.skipIf(torch is None, "needs PyTorch")
class TwoRanksTest(unittest.TestCase):
    def test_two_ranks_train_the_same_model_as_one_process_with_the_same_global_batch(self):
        single = run_single(16)
        ranks = run_ranks(2, 8)
        self.assertEqual([r["rank"] for r in ranks], [0, 1])
        self.assertEqual([r["is_main"] for r in ranks], [True, False])
        self.assertEqual({r["world_size"] for r in ranks}, {2})
        # The wrapper still looks like the model; checkpoints carry the plain model's keys.
        for r in ranks:
            self.assertEqual(r["wrapped"], "DistributedModel")
            self.assertEqual(r["unwrapped"], "Regressor")
            self.assertEqual(r["describe"], "regressor kept")
            self.assertEqual(r["keys"], single["keys"])
            self.assertEqual(r["batch_size"], 8)
            self.assertEqual(r["mean_rank"], 0.5)
            self.assertEqual(r["mean_tensor"], [1.0, 4.0])
        self.assertEqual(single["wrapped"], "Regressor")  # one process: unchanged
        # Each rank sees its own half, together all of it, in the sampler's deterministic order.
        for epoch in range(2):
            self.assertEqual(sorted(ranks[0]["seen"][epoch] + ranks[1]["seen"][epoch]), list(range(64)))
            self.assertFalse(set(ranks[0]["seen"][epoch]) & set(ranks[1]["seen"][epoch]))
        # DDP averages the two half-batch gradients: the same SGD steps as one process with batch 16.
        for key, values in single["params"].items():
            self.assertEqual(ranks[0]["params"][key], ranks[1]["params"][key])
            for a, b in zip(values, ranks[0]["params"][key]):
                self.assertAlmostEqual(a, b, delta=1e-5)
        # A shuffled loader: a new order each epoch without set_epoch, the ranks' shards still disjoint.
        for r in ranks:
            self.assertNotEqual(r["shuffled_seen"][0], r["shuffled_seen"][1])
        for epoch in range(2):
            both = ranks[0]["shuffled_seen"][epoch] + ranks[1]["shuffled_seen"][epoch]
            self.assertEqual(sorted(both), list(range(64)))


@unittest.skipIf(torch is None, "needs PyTorch")
class PrepareTest(unittest.TestCase):
    def setUp(self):
        from torch.utils.data import DataLoader, TensorDataset

        import mlops_sdk.distributed as dist

        self.dist = dist
        self.DataLoader = DataLoader
        self.dataset = TensorDataset(torch.arange(10.0))

    def test_one_process_changes_nothing(self):
        model, loader = torch.nn.Linear(1, 1), self.DataLoader(self.dataset, batch_size=4)
        for environ in ({}, {"WORLD_SIZE": "1", "RANK": "0"}):
            self.assertEqual(self.dist.prepare(model, loader, environ=environ), (model, loader))
        self.assertEqual(self.dist.all_reduce_mean(3), 3.0)
        self.assertTrue(self.dist.is_main())

    def test_a_world_without_a_master_is_a_clear_error(self):
        with self.assertRaisesRegex(RuntimeError, "MASTER_ADDR, MASTER_PORT not set"):
            self.dist.prepare(torch.nn.Linear(1, 1), None, environ={"WORLD_SIZE": "2", "RANK": "1"})
        self.assertFalse(self.dist.is_distributed())
        with self.assertRaisesRegex(ValueError, "RANK 2 is not below WORLD_SIZE 2"):
            self.dist.prepare(torch.nn.Linear(1, 1), None, environ={"WORLD_SIZE": "2", "RANK": "2"})

    def test_sharding_keeps_batch_size_shuffle_and_drop_last(self):
        from mlops_sdk import RankEnv

        loader = self.DataLoader(self.dataset, batch_size=2, shuffle=True, drop_last=True)
        sharded = self.dist._shard_loader(loader, RankEnv(rank=1, world_size=3), seed=5)
        self.assertEqual((sharded.batch_size, sharded.drop_last), (2, True))
        sampler = sharded.sampler
        self.assertEqual((sampler.num_replicas, sampler.rank, sampler.shuffle, sampler.seed), (3, 1, True, 5))
        self.assertEqual(len(list(sampler)), 3)  # 10 // 3: the tail is dropped, as drop_last asks
        plain = self.dist._shard_loader(self.DataLoader(self.dataset, batch_size=2), RankEnv(rank=0, world_size=2), 0)
        self.assertFalse(plain.sampler.shuffle)
        self.assertEqual(list(plain.sampler), [0, 2, 4, 6, 8])
        self.dist.set_epoch(sharded, 7)
        self.assertEqual(sharded.next_epoch, 7)

    def test_each_rank_picks_its_own_gpu(self):
        from unittest import mock

        from mlops_sdk import RankEnv

        with mock.patch("torch.cuda.device_count", return_value=1):  # CUDA_VISIBLE_DEVICES = the rank's one GPU
            self.assertEqual(self.dist._gpu_for(RankEnv(rank=3, local_rank=3, world_size=4)), torch.device("cuda", 0))
        with mock.patch("torch.cuda.device_count", return_value=4):  # the rank sees every GPU of its node
            self.assertEqual(self.dist._gpu_for(RankEnv(rank=6, local_rank=2, world_size=8)), torch.device("cuda", 2))

    def test_ranks_that_would_share_a_gpu_do_not_get_nccl(self):
        from unittest import mock

        from mlops_sdk import RankEnv

        two_on_node = RankEnv(rank=1, local_rank=1, world_size=2, local_world_size=2)
        with mock.patch("torch.cuda.device_count", return_value=1):
            # Both ranks see the node's one GPU: NCCL would refuse ("Duplicate GPU detected").
            self.assertTrue(self.dist._ranks_share_a_gpu(two_on_node, {}))
            # The platform sets one GPU per rank: each sees one, and they differ.
            self.assertFalse(self.dist._ranks_share_a_gpu(two_on_node, {"CUDA_VISIBLE_DEVICES": "1"}))
        with mock.patch("torch.cuda.device_count", return_value=2):
            self.assertFalse(self.dist._ranks_share_a_gpu(two_on_node, {}))
            self.assertTrue(self.dist._ranks_share_a_gpu(RankEnv(rank=0, world_size=3, local_world_size=3), {"CUDA_VISIBLE_DEVICES": " "}))

    def test_loaders_it_cannot_shard_are_refused(self):
        from torch.utils.data import IterableDataset, WeightedRandomSampler

        from mlops_sdk import RankEnv

        two = RankEnv(rank=0, world_size=2)
        weighted = self.DataLoader(self.dataset, batch_size=2, sampler=WeightedRandomSampler([1.0] * 10, 10))
        with self.assertRaisesRegex(ValueError, "not a WeightedRandomSampler"):
            self.dist._shard_loader(weighted, two, 0)

        class Stream(IterableDataset):
            def __iter__(self):
                return iter(range(3))

        with self.assertRaisesRegex(ValueError, "IterableDataset"):
            self.dist._shard_loader(self.DataLoader(Stream(), batch_size=2), two, 0)


if __name__ == "__main__":
    unittest.main()
