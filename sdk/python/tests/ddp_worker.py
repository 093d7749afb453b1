"""One rank of the two-rank test in test_distributed.py (launched with the torchrun environment, as the
platform launches ranks); also the single-process reference when WORLD_SIZE is unset. Prints one JSON line."""

import json
import sys

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import mlops_sdk.distributed as dist


class Regressor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(4, 1)
        self.note = "kept"

    def forward(self, x):
        return self.body(x).squeeze(1)

    def describe(self) -> str:
        return f"regressor {self.note}"


def main(batch_size: int) -> dict:
    torch.manual_seed(3)
    x = torch.randn(64, 4)
    y = x @ torch.tensor([1.0, -2.0, 3.0, 0.5]) + 0.1
    indices = torch.arange(64)
    model = Regressor()
    loader = DataLoader(TensorDataset(x, y, indices), batch_size=batch_size, shuffle=False)
    model, loader = dist.prepare(model, loader)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    seen = []
    for _ in range(2):
        epoch_seen = []
        for xb, yb, ib in loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(xb), yb).backward()
            optimizer.step()
            epoch_seen.extend(ib.tolist())
        seen.append(epoch_seen)
    # prepare() again (the model is wrapped already): only the loader is sharded; shuffled, it gets a new
    # order each epoch.
    again, shuffled = dist.prepare(model, DataLoader(TensorDataset(indices), batch_size=batch_size, shuffle=True))
    assert again is model, "a prepared model is not wrapped twice"
    shuffled_seen = [[i for (batch,) in shuffled for i in batch.tolist()] for _ in range(2)]
    state = model.state_dict()
    result = {
        "rank": dist.rank(),
        "world_size": dist.world_size(),
        "is_main": dist.is_main(),
        "keys": sorted(state),
        "params": {k: v.flatten().tolist() for k, v in state.items()},
        "seen": seen,
        "shuffled_seen": shuffled_seen,
        "batch_size": loader.batch_size,
        "describe": model.describe(),
        "mean_rank": dist.all_reduce_mean(float(dist.rank())),
        "mean_tensor": dist.all_reduce_mean(torch.tensor([dist.rank() * 2, 4])).tolist(),
        "wrapped": type(model).__name__,
        "unwrapped": type(dist.unwrap(model)).__name__,
    }
    dist.barrier()
    dist.cleanup()
    return result


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))), flush=True)
