"""NeRF benchmark: test-view PSNR after wall-clock budgets or step counts; throughput.

1. Quality: on the synthetic body dataset of ``tools/make_views.py`` (100 train / 20 test
   views, 128×128, made here if ``--dataset`` does not exist yet), train a fresh NeRF for
   each wall-clock budget (``--budgets``, default 300 s and 900 s on the CPU) and/or each
   fixed number of steps (``--steps``; with it, ``--budgets`` defaults to none), and
   evaluate on the 20 test views over white:

   * ``psnr``, ``ssim``: whole image, as NeRF papers report. The body fills only ~8 % of
     each frame, so these mostly measure the empty white background.
   * ``psnr_foreground``: PSNR over the pixels the body covers in either image (true
     alpha > 0 or rendered opacity > ``foreground_opacity`` = 0.1), so missing body and
     floaters both count; ``foreground_fraction``: mean share of such pixels.
   * ``steps``, ``train_seconds``, ``steps_per_s``: how much training the budget bought
     on this machine (a wall-time budget buys fewer steps when the CPU is shared, so
     compare quality at equal ``steps``).

   Target: >= 28 dB whole-image test PSNR within 15 min on the CPU at 128×128.
   With ``--mesh``, each run also extracts the density mesh
   (``humanrecon.nerf.evaluate.extract_density_mesh``, ``--mesh-resolution`` 256, default
   level, as ``humanrecon nerf mesh``) and compares it with the true body
   (``humanrecon.geometry.metrics.mesh_metrics``, 100k samples, exact point-to-surface
   distances): ``density_mesh`` holds completeness, accuracy, Chamfer-L1 (mm), IoU,
   normal consistency and F-score at 1 cm. The true body is the open body in its rest
   pose (what ``make_views.py`` renders by default), or ``--truth MESH``.
2. Throughput: forward+backward points/s of the hash-grid encoding alone and of the
   whole Instant-NGP field (hash grid + tiny MLPs), against the named baseline measured
   in the same run: the original NeRF field (positional encoding, 8×256 MLP,
   Mildenhall et al. 2020) on the same points. Ratio > 1: faster than the baseline.

Prints one JSON line per run (budget or step count) and one for the throughput
(``--throughput-points 0`` skips it).

    python tools/bench_nerf.py [--dataset /tmp/humanrecon_body_views] [--budgets 300,900]
                               [--steps 1000,3000] [--mesh] [--truth MESH]
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

from humanrecon.datasets import read_blender
from humanrecon.geometry.metrics import mesh_metrics
from humanrecon.nerf.evaluate import FOREGROUND_OPACITY, evaluate_split, extract_density_mesh
from humanrecon.nerf.field import NGPField, mlp
from humanrecon.nerf.hashgrid import HashGridEncoding
from humanrecon.nerf.train import MODEL_PRESETS, NerfConfig, train_nerf



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


def plan_runs(budgets: str | None, steps: str) -> list[tuple[str, float | int]]:
    """``("budget", seconds)`` and ``("steps", n)`` runs from the comma-separated flags;
    without ``--budgets``, the default 300 s and 900 s runs unless ``--steps`` is given."""
    if budgets is None:
        budgets = "" if steps else "300,900"
    return [("budget", float(b)) for b in budgets.split(",") if b] + [("steps", int(n)) for n in steps.split(",") if n]


def true_mesh(path: str):
    """Vertices and faces of the mesh the dataset shows: ``path`` or the open body."""
    from humanrecon.datasets.synthetic import default_body, mesh_from_file

    vertices, faces, _ = mesh_from_file(path) if path else default_body()
    return vertices, faces


def density_mesh_metrics(model, truth, resolution: int) -> dict:
    """Density mesh of ``model`` (default level) against the true mesh: distances in mm."""
    start = time.perf_counter()
    try:
        mesh = extract_density_mesh(model, resolution=resolution, progress=False).mesh
    except ValueError as exc:  # e.g. no surface at the level yet (a short run): say so, keep the line
        return {"resolution": resolution, "level": "default", "error": str(exc)}
    seconds = time.perf_counter() - start
    m = mesh_metrics(mesh.vertices, mesh.faces, *truth, threshold=0.01)
    return {"resolution": resolution, "level": "default", "vertices": len(mesh.vertices),
            "extract_seconds": round(seconds, 1),
            "completeness_mm": round(1000 * m["completeness"], 2), "accuracy_mm": round(1000 * m["accuracy"], 2),
            "chamfer_l1_mm": round(1000 * m["chamfer_l1"], 2),
            "iou": None if math.isnan(m["iou"]) else round(m["iou"], 4),  # None: mesh not watertight
            "normal_consistency": round(m["normal_consistency"], 4), "f_score_1cm": round(m["f_score"], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="/tmp/humanrecon_body_views")
    parser.add_argument("--size", type=int, default=128, help="image size when the dataset is made here")
    parser.add_argument("--budgets", default=None,
                        help="training seconds, comma-separated ('' to skip; default 300,900, or none with --steps)")
    parser.add_argument("--steps", default="", help="fixed training step counts, comma-separated (no time limit)")
    parser.add_argument("--mesh", action="store_true", help="also score the density mesh against the true body")
    parser.add_argument("--mesh-resolution", type=int, default=256)
    parser.add_argument("--truth", default="", help="true mesh for --mesh (default: the open body, rest pose)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--throughput-points", type=int, default=1 << 18, help="0 skips the throughput test")
    parser.add_argument("--out", default="", help="keep each run (model, test renders) under this folder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs = plan_runs(args.budgets, args.steps)
    dataset = Path(args.dataset)
    ensure_dataset(dataset, args.size)
    train, test = read_blender(dataset, "train"), read_blender(dataset, "test")
    truth = true_mesh(args.truth) if args.mesh else None
    for kind, amount in runs:
        name = f"{kind}_{int(amount)}"
        out = Path(args.out) / name if args.out else Path("/tmp") / f"bench_nerf_{name}"
        config = NerfConfig(steps=amount if kind == "steps" else 1_000_000,
                            max_seconds=amount if kind == "budget" else None, device=args.device, progress=False,
                            model=MODEL_PRESETS["cpu" if args.device == "cpu" else "ngp"])
        model, history = train_nerf(train, out, config)
        metrics = evaluate_split(model, test, out / "test" if args.out else None, progress=False,
                                 foreground_opacity=FOREGROUND_OPACITY)
        fg = metrics["psnr_foreground"]
        result = {
            "benchmark": "nerf_psnr", "dataset": str(dataset), "size": train.images.shape[1],
            "train_views": len(train.cameras), "test_views": len(test.cameras), "device": args.device,
            "threads": args.threads, "budget_s": amount if kind == "budget" else None,
            "fixed_steps": amount if kind == "steps" else None, "steps": history.steps,
            "train_seconds": round(history.seconds, 1),
            "steps_per_s": round(history.steps / max(history.seconds, 1e-9), 2),
            "psnr": round(metrics["psnr"], 3), "psnr_foreground": None if fg is None else round(fg, 3),
            "foreground_opacity": FOREGROUND_OPACITY, "foreground_fraction": round(metrics["foreground_fraction"], 4),
            "ssim": round(metrics["ssim"], 4), "occupied_fraction": round(model.grid.occupied_fraction, 4),
            "mean_samples_per_step": round(sum(history.samples) / max(history.steps, 1)),
            "target_psnr": 28.0 if args.device == "cpu" else 33.0,
        }
        if truth is not None:
            result["density_mesh"] = density_mesh_metrics(model, truth, args.mesh_resolution)
        print(json.dumps(result), flush=True)
    if args.throughput_points > 0:
        print(json.dumps(bench_throughput(args.throughput_points)), flush=True)


if __name__ == "__main__":
    main()
