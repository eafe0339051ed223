"""NeRF benchmark: test-view PSNR after fixed wall-clock budgets, and hash-grid throughput.

1. Quality: on the synthetic body dataset of ``tools/make_views.py`` (100 train / 20 test
   views, 128×128, made here if ``--dataset`` does not exist yet), train a fresh NeRF for
   each budget (default 300 s and 900 s on the CPU) and evaluate PSNR/SSIM on the 20 test
   views over white. Target: >= 28 dB within 15 min on the CPU at 128×128.
2. Throughput: forward+backward points/s of the hash-grid encoding alone and of the
   whole Instant-NGP field (hash grid + tiny MLPs), against the named baseline measured
   in the same run: the original NeRF field (positional encoding, 8×256 MLP,
   Mildenhall et al. 2020) on the same points. Ratio > 1: faster than the baseline.

Prints one JSON line per budget and one for the throughput.

    python tools/bench_nerf.py [--dataset /tmp/humanrecon_body_views] [--budgets 300,900]
                               [--threads 2] [--device cpu] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from humanrecon.datasets import read_blender  # noqa: E402
from humanrecon.nerf.evaluate import evaluate_split  # noqa: E402
from humanrecon.nerf.field import NGPField, mlp  # noqa: E402
from humanrecon.nerf.hashgrid import HashGridEncoding  # noqa: E402
from humanrecon.nerf.train import MODEL_PRESETS, NerfConfig, train_nerf  # noqa: E402



class VanillaNerfField(nn.Module):
    """The original NeRF MLP as the throughput baseline: 10/4 positional-encoding
    frequencies for points/directions, 8 layers of 256 with a skip at layer 5."""

    def __init__(self, frequencies: int = 10, direction_frequencies: int = 4, width: int = 256) -> None:
        super().__init__()
        self.frequencies, self.direction_frequencies = frequencies, direction_frequencies
        in_dim, dir_dim = 3 + 6 * frequencies, 3 + 6 * direction_frequencies
        self.first = mlp(in_dim, width, width, 3)
        self.second = mlp(width + in_dim, width, width + 1, 3)
        self.color = mlp(width + dir_dim, width // 2, 3, 1)

    @staticmethod
    def encode(x: torch.Tensor, n: int) -> torch.Tensor:
        scales = 2.0 ** torch.arange(n, dtype=x.dtype) * math.pi
        angles = (x[..., None] * scales).flatten(-2)
        return torch.cat([x, torch.sin(angles), torch.cos(angles)], dim=-1)

    def forward(self, points: torch.Tensor, directions: torch.Tensor):
        p = self.encode(points, self.frequencies)
        h = self.second(torch.cat([self.first(p), p], dim=-1))
        rgb = torch.sigmoid(self.color(torch.cat([h[:, 1:], self.encode(directions, self.direction_frequencies)], -1)))
        return torch.relu(h[:, 0]), rgb


def throughput(fn, params, n: int, repeats: int = 5) -> float:
    """Points per second of forward + backward of ``fn(points, dirs)`` (summed outputs)."""
    gen = torch.Generator().manual_seed(0)
    points, dirs = torch.rand(n, 3, generator=gen), torch.nn.functional.normalize(torch.randn(n, 3, generator=gen), dim=-1)
    times = []
    for i in range(repeats + 1):
        for p in params:
            p.grad = None
        start = time.perf_counter()
        out = fn(points, dirs)
        sum(o.sum() for o in (out if isinstance(out, tuple) else (out,))).backward()
        if i:
            times.append(time.perf_counter() - start)
    return n / sorted(times)[len(times) // 2]


def bench_throughput(n: int) -> dict:
    grid = HashGridEncoding(log2_table_size=19, finest_resolution=2048)
    field = NGPField([[0, 0, 0], [1, 1, 1]], log2_table_size=19, finest_resolution=2048)
    vanilla = VanillaNerfField()
    grid_pps = throughput(lambda p, d: grid(p), list(grid.parameters()), n)
    field_pps = throughput(field, list(field.parameters()), n)
    vanilla_pps = throughput(vanilla, list(vanilla.parameters()), n // 4)
    return {"benchmark": "nerf_throughput", "points": n, "hashgrid_points_per_s": round(grid_pps),
            "ngp_field_points_per_s": round(field_pps), "baseline": "vanilla NeRF field (PE + 8x256 MLP)",
            "baseline_points_per_s": round(vanilla_pps), "field_vs_baseline": round(field_pps / vanilla_pps, 2)}


def ensure_dataset(path: Path, size: int) -> None:
    if (path / "transforms_train.json").is_file():
        return
    import subprocess

    subprocess.run([sys.executable, str(ROOT / "tools" / "make_views.py"), "--out", str(path), "--views", "100",
                    "--val", "20", "--test", "20", "--size", str(size)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="/tmp/humanrecon_body_views")
    parser.add_argument("--size", type=int, default=128, help="image size when the dataset is made here")
    parser.add_argument("--budgets", default="300,900", help="training seconds, comma-separated ('' to skip)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--throughput-points", type=int, default=1 << 18)
    parser.add_argument("--out", default="", help="keep each run (model, test renders) under this folder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dataset = Path(args.dataset)
    ensure_dataset(dataset, args.size)
    train, test = read_blender(dataset, "train"), read_blender(dataset, "test")
    for budget in [float(b) for b in args.budgets.split(",") if b]:
        out = Path(args.out) / f"budget_{int(budget)}" if args.out else Path("/tmp") / f"bench_nerf_{int(budget)}"
        config = NerfConfig(steps=1_000_000, max_seconds=budget, device=args.device, progress=False,
                            model=MODEL_PRESETS["cpu" if args.device == "cpu" else "ngp"])
        model, history = train_nerf(train, out, config)
        metrics = evaluate_split(model, test, out / "test" if args.out else None, progress=False)
        print(json.dumps({
            "benchmark": "nerf_psnr", "dataset": str(dataset), "size": train.images.shape[1],
            "train_views": len(train.cameras), "test_views": len(test.cameras), "device": args.device,
            "budget_s": budget, "steps": history.steps, "psnr": round(metrics["psnr"], 3),
            "ssim": round(metrics["ssim"], 4), "occupied_fraction": round(model.grid.occupied_fraction, 4),
            "mean_samples_per_step": round(sum(history.samples) / max(history.steps, 1)),
            "target_psnr": 28.0 if args.device == "cpu" else 33.0,
        }), flush=True)
    print(json.dumps(bench_throughput(args.throughput_points)), flush=True)


if __name__ == "__main__":
    main()
