"""Benchmark: dense vs hierarchical (MISE) marching cubes on analytic SDFs.

Prints one JSON line. For each shape (an off-centre sphere and a torus in the 1 m cube
``[-0.5, 0.5]^3``) and each mode: evaluations of ``fn``, their ratio to the dense grid
(target for hierarchical: <= 0.15 at resolution 256), wall-clock seconds, and

* ``chamfer``: symmetric Chamfer distance (metres, mean of the two mean nearest-neighbour
  distances) between ``--samples`` points sampled on the mesh and as many sampled on the
  analytic surface (cKDTree); hierarchical should be within 5 % of dense;
* ``mean_abs_sdf``: exact mean |sdf| of the mesh samples (metres), free of sampling noise;
* ``hier_vs_dense``: symmetric Chamfer between the two meshes' samples.

    python tools/bench_meshing.py [--resolution 256] [--initial 32] [--samples 200000] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from humanrecon.geometry.meshing import extract_mesh

BOUNDS = ((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))
TARGET_RATIO = 0.15
SPHERE_CENTRE, SPHERE_RADIUS = np.array([0.06, -0.04, 0.03]), 0.3
TORUS_CENTRE, TORUS_MAJOR, TORUS_MINOR = np.array([0.02, 0.05, -0.04]), 0.28, 0.09


def sphere_sdf(p: torch.Tensor) -> torch.Tensor:
    """Sphere SDF, points (N, 3) metres -> (N,)."""
    return torch.linalg.norm(p - torch.as_tensor(SPHERE_CENTRE, dtype=p.dtype), dim=-1) - SPHERE_RADIUS


def torus_sdf(p: torch.Tensor) -> torch.Tensor:
    """Torus (around the y axis) SDF, points (N, 3) metres -> (N,)."""
    d = p - torch.as_tensor(TORUS_CENTRE, dtype=p.dtype)
    ring = torch.linalg.norm(d[:, [0, 2]], dim=-1) - TORUS_MAJOR
    return torch.sqrt(ring ** 2 + d[:, 1] ** 2) - TORUS_MINOR


def sphere_samples(n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform points (n, 3) on the analytic sphere."""
    d = rng.normal(size=(n, 3))
    return SPHERE_CENTRE + SPHERE_RADIUS * d / np.linalg.norm(d, axis=1, keepdims=True)


def torus_samples(n: int, rng: np.random.Generator) -> np.ndarray:
    """Area-uniform points (n, 3) on the analytic torus (rejection on the tube angle)."""
    out = []
    while sum(len(o) for o in out) < n:
        u, v = rng.uniform(0, 2 * math.pi, (2, 2 * n))
        keep = rng.uniform(0, 1, 2 * n) < (TORUS_MAJOR + TORUS_MINOR * np.cos(v)) / (TORUS_MAJOR + TORUS_MINOR)
        u, v = u[keep], v[keep]
        ring = TORUS_MAJOR + TORUS_MINOR * np.cos(v)
        out.append(np.stack([ring * np.cos(u), TORUS_MINOR * np.sin(v), ring * np.sin(u)], axis=1))
    return TORUS_CENTRE + np.concatenate(out)[:n]


def chamfer(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric Chamfer distance (metres) between point sets (Na, 3) and (Nb, 3)."""
    from scipy.spatial import cKDTree

    return 0.5 * float(cKDTree(b).query(a)[0].mean() + cKDTree(a).query(b)[0].mean())


def run_mode(fn, truth: np.ndarray, args, hierarchical: bool):
    """Extract one mesh; returns (its JSON record, its surface samples (n, 3))."""
    import trimesh

    res = extract_mesh(fn, BOUNDS, args.resolution, hierarchical=hierarchical, initial_resolution=args.initial)
    samples = np.asarray(trimesh.sample.sample_surface(res.mesh, args.samples, seed=0)[0])
    record = {
        "evaluations": res.num_evaluations,
        "ratio": round(res.ratio, 4),
        "seconds": round(res.seconds, 3),
        "faces": len(res.mesh.faces),
        "watertight": bool(res.mesh.is_watertight),
        "chamfer": chamfer(samples, truth),
        "mean_abs_sdf": float(fn(torch.as_tensor(samples, dtype=torch.float32)).abs().mean()),
    }
    return record, samples


def bench_shape(fn, truth: np.ndarray, args) -> dict:
    """Dense and hierarchical records for one shape plus their comparison."""
    dense, dense_pts = run_mode(fn, truth, args, hierarchical=False)
    hier, hier_pts = run_mode(fn, truth, args, hierarchical=True)
    return {
        "dense": dense,
        "hierarchical": hier,
        "hier_vs_dense": chamfer(hier_pts, dense_pts),
        "chamfer_rel_change": round(hier["chamfer"] / dense["chamfer"] - 1.0, 4),
        "ratio_meets_target": hier["ratio"] <= TARGET_RATIO,
        "chamfer_within_5pct": abs(hier["chamfer"] / dense["chamfer"] - 1.0) <= 0.05,
        "speedup": round(dense["seconds"] / hier["seconds"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--initial", type=int, default=32)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    shapes = {"sphere": (sphere_sdf, sphere_samples(args.samples, rng)),
              "torus": (torus_sdf, torus_samples(args.samples, rng))}
    out = {
        "bench": "meshing", "resolution": args.resolution, "initial_resolution": args.initial,
        "voxel_m": 1.0 / args.resolution, "target_ratio": TARGET_RATIO, "threads": args.threads,
        "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
        "shapes": {name: bench_shape(fn, truth, args) for name, (fn, truth) in shapes.items()},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
