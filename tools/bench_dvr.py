"""Benchmark DVR against the NeRF density mesh on the synthetic body views.

One JSON line per measurement:

* ``dvr_memory``: bytes autograd saves for backward (``saved_tensors_hooks``) through the
  surface depth of the benchmark's own DVR network, analytic (implicit gradient,
  :func:`humanrecon.dvr.surface.surface_depth`) against autograd through the unrolled
  secant search (:func:`~humanrecon.dvr.surface.unrolled_surface_depth`), at equal
  gradients (the largest relative difference of the parameter gradients is printed),
  and peak-allocated bytes of both on CUDA when run there. Target: analytic ≥ 5× less.
* ``dvr_quality`` and ``nerf_quality_same_protocol``: each trained for the same wall-time
  budget (default 900 s, 2 threads) on the same 100 train views (128 × 128), then
  scored identically: the mesh (DVR: its zero level set; NeRF: its density mesh at the
  default level, as ``humanrecon nerf mesh``; both by the shared extractor at 256³)
  against the true body (``humanrecon.geometry.metrics.mesh_metrics``, 100k samples, exact
  point-to-surface distances; Chamfer-L1 = mean of accuracy and completeness, in mm), and
  the 20 test views: mask IoU (DVR: the rays that hit, 256 samples per ray inside the
  model's occupied box, as ``humanrecon dvr render``; NeRF: rendered opacity > 0.5;
  against true alpha > 0.5, all pixels of all views pooled) and PSNR over the pixels of
  the true mask only (both renderings over white against the truth over white: the body
  fills ~10 % of each frame, so a whole-image PSNR would mostly score background).
  Targets: DVR Chamfer-L1 ≤ 5 mm, mask IoU ≥ 0.97.

    python tools/bench_dvr.py [--budget 900] [--dataset /tmp/humanrecon_body_views] [--no-nerf]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from humanrecon.datasets import default_body, make_views, read_blender
from humanrecon.dvr.config import DVRConfig
from humanrecon.dvr.evaluate import extract_dvr_mesh, mesh_report
from humanrecon.render.image_metrics import mask_iou
from humanrecon.dvr.model import DVRModel
from humanrecon.dvr.render import render_views
from humanrecon.dvr.surface import (SDF, find_surface, saved_tensor_bytes, surface_depth,
                                    unrolled_surface_depth)
from humanrecon.dvr.train import train_dvr
from humanrecon.geometry.scene import dataset_bounds, ray_aabb

MESH_RESOLUTION = 256


def ensure_dataset(path: Path) -> None:
    """The 100 / 20 / 20 body views at 128 × 128 (``humanrecon views`` defaults)."""
    if not (path / "transforms_train.json").is_file():
        make_views(*default_body(), path, views=100, size=128, val=20, test=20, progress=False)


def bench_memory(split, rays: int, samples: int, secant_steps: int, device: str) -> dict:
    """Saved-for-backward bytes of analytic vs unrolled surface depths (module docstring)."""
    torch.manual_seed(0)
    bounds = dataset_bounds(split)
    model = DVRModel(bounds).to(device)
    origins, directions = (x.reshape(-1, 3) for x in split.cameras[0].rays())
    near, far, in_box = ray_aabb(origins, directions, bounds)
    pick = torch.nonzero(in_box)[:, 0]
    pick = pick[torch.randperm(len(pick), generator=torch.Generator().manual_seed(0))[:rays]]
    o, d, near, far = (x[pick].to(device) for x in (origins, directions, near, far))
    hits = find_surface(model.sdf, o, d, near, far, samples=samples, secant_steps=secant_steps, surface=SDF)
    params = [p for p in model.shape.parameters()]

    def analytic():
        depth, _ = surface_depth(model.sdf, o, d, hits, SDF)
        return depth

    def unrolled():
        depth, _ = unrolled_surface_depth(model.sdf, o, d, near, far, samples=samples, secant_steps=secant_steps,
                                            surface=SDF)
        return depth[hits.hit]

    rows = {}
    for name, fn in (("analytic", analytic), ("unrolled", unrolled)):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        depth, saved = saved_tensor_bytes(fn)
        grads = torch.autograd.grad(depth.sum(), params, allow_unused=True)
        rows[name] = {"saved_bytes": saved, "seconds": time.perf_counter() - start,
                      "grads": torch.cat([g.flatten() for g in grads if g is not None]),
                      "peak_bytes": torch.cuda.max_memory_allocated() if device.startswith("cuda") else None}
    a, u = rows["analytic"], rows["unrolled"]
    return {"benchmark": "dvr_memory", "rays": rays, "hits": int(hits.hit.sum()), "samples": samples,
            "secant_steps": secant_steps, "network": "DVRModel defaults (benchmark's)",
            "analytic_saved_mb": round(a["saved_bytes"] / 2**20, 2), "unrolled_saved_mb": round(u["saved_bytes"] / 2**20, 2),
            "saved_ratio": round(u["saved_bytes"] / a["saved_bytes"], 1),
            "analytic_peak_mb": None if a["peak_bytes"] is None else round(a["peak_bytes"] / 2**20, 2),
            "unrolled_peak_mb": None if u["peak_bytes"] is None else round(u["peak_bytes"] / 2**20, 2),
            "grad_max_rel_diff": float((a["grads"] - u["grads"]).abs().max() / u["grads"].abs().max()),
            "analytic_s": round(a["seconds"], 3), "unrolled_s": round(u["seconds"], 3), "target_ratio": 5.0}


def view_metrics(rgb: torch.Tensor, mask: torch.Tensor, split) -> dict:
    """Mask IoU and PSNR over the true mask's pixels of renderings ``rgb (N, H, W, 3)``
    over white and their masks ``(N, H, W)`` against the split (module docstring)."""
    true_mask = split.alpha > 0.5
    truth = split.composite(torch.ones(3))
    mse = float((rgb - truth).square()[true_mask].mean())
    return {"mask_iou": round(mask_iou(mask, true_mask), 4),
            "psnr_masked": round(10 * math.log10(1 / mse), 3) if mse > 0 else math.inf}


def mesh_row(vertices, faces, truth) -> dict:
    r = mesh_report(vertices, faces, *truth)
    return {"chamfer_l1_mm": round(r["chamfer_l1_mm"], 2), "accuracy_mm": round(1000 * r["accuracy"], 2),
            "completeness_mm": round(1000 * r["completeness"], 2), "normal_consistency": round(r["normal_consistency"], 4),
            "iou": None if math.isnan(r["iou"]) else round(r["iou"], 4), "f_score_1cm": round(r["f_score"], 4),
            "mesh_vertices": len(vertices)}


def bench_dvr(train, test, truth, budget: float, device: str, out: Path) -> dict:
    config = DVRConfig(steps=10**9, max_seconds=budget, device=device, progress=False, checkpoint_every=0)
    model, history = train_dvr(train, out / "dvr", config)
    rendered = render_views(model, test.cameras, background=1.0, progress=False)
    vertices, faces = extract_dvr_mesh(model, MESH_RESOLUTION)
    return {"benchmark": "dvr_quality", "budget_s": budget, "steps": history.steps,
            "s_per_step": round(history.seconds / max(history.steps, 1), 3),
            **view_metrics(rendered["rgb"].cpu(), rendered["mask"].cpu(), test), **mesh_row(vertices, faces, truth),
            "target_chamfer_l1_mm": 5.0, "target_mask_iou": 0.97}


def bench_nerf(train, test, truth, budget: float, device: str, out: Path) -> dict:
    from humanrecon.nerf.config import MODEL_PRESETS, NerfConfig
    from humanrecon.nerf.evaluate import extract_density_mesh
    from humanrecon.nerf.train import train_nerf

    config = NerfConfig(steps=10**9, max_seconds=budget, device=device, progress=False, checkpoint_every=0,
                        model=dict(MODEL_PRESETS["cpu" if device == "cpu" else "ngp"]))
    model, history = train_nerf(train, out / "nerf", config)
    images = [model.render_image(test.cameras[i], background=1.0) for i in range(len(test.cameras))]
    rgb = torch.stack([x["rgb"].cpu() for x in images])
    mask = torch.stack([x["opacity"].cpu() > 0.5 for x in images])
    mesh = extract_density_mesh(model, resolution=MESH_RESOLUTION, progress=False).mesh
    return {"benchmark": "nerf_quality_same_protocol", "budget_s": budget, "steps": history.steps,
            "s_per_step": round(history.seconds / max(history.steps, 1), 3), **view_metrics(rgb, mask, test),
            **mesh_row(mesh.vertices, mesh.faces, truth)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="/tmp/humanrecon_body_views")
    parser.add_argument("--budget", type=float, default=900.0, help="training seconds of each method")
    parser.add_argument("--no-nerf", action="store_true", help="skip the NeRF row")
    parser.add_argument("--memory-rays", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="/tmp/bench_dvr", help="runs are kept here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dataset = Path(args.dataset)
    ensure_dataset(dataset)
    train, test = read_blender(dataset, "train"), read_blender(dataset, "test")
    print(json.dumps(bench_memory(train, args.memory_rays, DVRConfig.samples, DVRConfig.secant_steps, args.device)),
          flush=True)
    if args.budget <= 0:
        return
    vertices, faces, _ = default_body()
    truth = (vertices, faces)
    out = Path(args.out)
    print(json.dumps(bench_dvr(train, test, truth, args.budget, args.device, out)), flush=True)
    if not args.no_nerf:
        print(json.dumps(bench_nerf(train, test, truth, args.budget, args.device, out)), flush=True)


if __name__ == "__main__":
    main()
