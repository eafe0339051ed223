"""Gaussian-splatting benchmark: rasterizer speed per backend, and training quality.

1. Speed (``--scenes``, default 10k/100k Gaussians at 256×256 and 800×800; add ``1000000``
   for 1M): fixed random scenes (seed 0; Gaussians in a 2 m cube seen from 3 m, scales
   1-3 % of the cube, opacities U(0.1, 0.9), SH degree 3), one camera; forward and
   forward+backward wall time (median of ``--repeats``) for each backend available here
   (``torch`` reference, compiled ``cpu``; ``cuda`` on a GPU). One JSON line per (scene,
   size): seconds per backend and ``speedup_cpu_vs_torch`` = torch / cpu in the same run.
   Targets: cpu >= 10x torch; 100k Gaussians at 256×256 forward+backward <= 0.3 s on 2 cores.
   The torch reference is skipped above ``--torch-max`` Gaussians x pixels (too slow).
2. Quality (``--budgets``, default 120,300 s; ``--budgets ''`` skips): on the synthetic body
   views of ``tools/make_views.py`` (100 train / 20 test at 128×128, made if missing),
   train splats for each wall-clock budget and evaluate on the 20 test views over white:
   ``psnr``/``ssim`` over the whole image (the NeRF-synthetic protocol: the body fills
   ~10 % of the frame, so these flatter), and ``psnr_foreground`` over the pixels the body
   covers in either image. With ``--nerf`` the same budgets train the NeRF
   (``humanrecon.nerf``, CPU preset) in the same run, for the comparison the issue asks.

    python tools/bench_splat.py [--scenes 10000,100000] [--sizes 256,800] [--budgets 120,300]
                                [--nerf] [--threads 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from humanrecon.datasets import read_blender
from humanrecon.render.novel_views import evaluate_split
from humanrecon.splat.config import SplatConfig
from humanrecon.splat.rendering import rasterize

sys.path.insert(0, str(ROOT / "tools"))
from bench_nerf import ensure_dataset  # the same dataset as the NeRF benchmark


def random_scene(n: int, device: str, seed: int = 0) -> dict:
    """``n`` Gaussians in a 2 m cube at the origin (activated parameters, SH degree 3)."""
    gen = torch.Generator().manual_seed(seed)
    return {"means": (torch.rand(n, 3, generator=gen) * 2 - 1).to(device),
            "quats": torch.randn(n, 4, generator=gen).to(device),
            "scales": (0.02 + 0.04 * torch.rand(n, 3, generator=gen)).to(device),
            "opacities": (0.1 + 0.8 * torch.rand(n, generator=gen)).to(device),
            "colors": (0.3 * torch.randn(n, 16, 3, generator=gen)).to(device)}


def camera(size: int, device: str):
    """A camera 3 m in front of the cube, looking at it, 60° field of view."""
    f = 0.5 * size / torch.tan(torch.tensor(0.5236))
    viewmat = torch.eye(4)
    viewmat[2, 3] = 3.0
    K = torch.tensor([[f, 0, size / 2], [0, f, size / 2], [0, 0, 1.0]])
    return viewmat[None].to(device), K[None].to(device)


def timed(fn, repeats: int) -> float:
    fn()  # warm-up (and the first-use build of a compiled backend)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_speed(n: int, size: int, backends: list[str], repeats: int, device: str, torch_max: float) -> dict:
    scene = random_scene(n, device)
    viewmats, Ks = camera(size, device)
    row = {"benchmark": "splat_speed", "gaussians": n, "size": size, "threads": torch.get_num_threads(),
           "device": device}
    for backend in backends:
        if backend == "torch" and n * size * size > torch_max:
            row[f"{backend}_skipped"] = f"gaussians x pixels > {torch_max:g}"
            continue
        leaves = {k: v.clone().requires_grad_(True) for k, v in scene.items()}

        def forward():
            with torch.no_grad():
                rasterize(**scene, viewmats=viewmats, Ks=Ks, width=size, height=size, sh_degree=3, backend=backend)

        def forward_backward():
            colors, alphas, _ = rasterize(**leaves, viewmats=viewmats, Ks=Ks, width=size, height=size, sh_degree=3,
                                          backend=backend)
            (colors.sum() + alphas.sum()).backward()

        row[f"{backend}_forward_s"] = round(timed(forward, repeats), 4)
        row[f"{backend}_forward_backward_s"] = round(timed(forward_backward, repeats), 4)
    if "torch_forward_backward_s" in row and "cpu_forward_backward_s" in row:
        row["speedup_cpu_vs_torch"] = round(row["torch_forward_backward_s"] / row["cpu_forward_backward_s"], 1)
    return row


def bench_quality(dataset: Path, budget: float, device: str, nerf: bool, out: Path) -> list[dict]:
    from humanrecon.splat.train import train_splats

    train, test = read_blender(dataset, "train"), read_blender(dataset, "test")
    rows = []
    config = SplatConfig(steps=10**9, max_seconds=budget, device=device, progress=False, checkpoint_every=0)
    model, history = train_splats(train, out / f"splat_{int(budget)}", config)
    metrics = evaluate_split(model, test, progress=False)
    rows.append({"benchmark": "splat_quality", "budget_s": budget, "steps": history.steps,
                 "gaussians": model.num_gaussians, "psnr": round(metrics["psnr"], 2),
                 "psnr_foreground": round(metrics["psnr_foreground"], 2), "ssim": round(metrics["ssim"], 4),
                 "foreground_fraction": round(metrics["foreground_fraction"], 3)})
    if nerf:
        from humanrecon.nerf.config import MODEL_PRESETS, NerfConfig
        from humanrecon.nerf.train import train_nerf

        nerf_config = NerfConfig(steps=10**9, max_seconds=budget, device=device, progress=False,
                                 model=dict(MODEL_PRESETS["cpu"]), checkpoint_every=0)
        nerf_model, nerf_history = train_nerf(train, out / f"nerf_{int(budget)}", nerf_config)
        nm = evaluate_split(nerf_model, test, progress=False)
        rows.append({"benchmark": "nerf_quality_same_protocol", "budget_s": budget, "steps": nerf_history.steps,
                     "psnr": round(nm["psnr"], 2), "psnr_foreground": round(nm["psnr_foreground"], 2),
                     "ssim": round(nm["ssim"], 4)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", default="10000,100000")
    parser.add_argument("--sizes", default="256,800")
    parser.add_argument("--backends", default="torch,cpu,cuda")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--torch-max", type=float, default=100_000 * 256 * 256 + 1)
    parser.add_argument("--budgets", default="120,300")
    parser.add_argument("--nerf", action="store_true", help="also train the NeRF under each budget")
    parser.add_argument("--dataset", default="/tmp/humanrecon_body_views")
    parser.add_argument("--out", default="/tmp/humanrecon_bench_splat")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from humanrecon.splat.rendering import backend_available

    backends = [b for b in args.backends.split(",") if b and backend_available(b)]
    for n in (int(s) for s in args.scenes.split(",") if s):
        for size in (int(s) for s in args.sizes.split(",") if s):
            print(json.dumps(bench_speed(n, size, backends, args.repeats, args.device, args.torch_max)), flush=True)
    if args.budgets:
        dataset = Path(args.dataset)
        ensure_dataset(dataset, 128)
        for budget in (float(b) for b in args.budgets.split(",")):
            for row in bench_quality(dataset, budget, args.device, args.nerf, Path(args.out)):
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
