"""Quality and extraction-cost benchmark of the implicit-shape fits.

For each mesh (the open body in its rest pose, and trimesh's torus as a second watertight
shape) and each method — occupancy network (ground truth by ray casting), DeepSDF
(single shape) and IGR from 100k surface points with normals (no distances) — train for a
wall-clock budget on this CPU (``--budget``, default 600 s) or for a fixed number of steps
(``--steps N``, no time limit: comparable across machines and CPU load), extract the
mesh at resolution 256 with the hierarchical (MISE-style) extractor, and compare with the
ground-truth mesh (IoU, Chamfer-L1, normal consistency, F-score at 1 cm). Chamfer-L1 is reported twice: ``chamfer_l1_mm``
measures each of 100k surface samples' exact distance to the other mesh's surface (no
sampling floor); ``chamfer_l1_mm_onet`` is ONet's protocol (nearest of the other mesh's
100k independent samples), which cannot go below ~2.1 mm on the body even for a
perfect fit (see ``sampling_floor_mm``, the ground truth against itself). For the first fitted shape it also extracts densely
at 256 and reports the hierarchical/dense ratio of network evaluations and time and the
Chamfer difference (target: <= 0.15 of the evaluations, Chamfer within 5 %).
Each fit also reports ``steps``, ``train_seconds`` (wall time of the training loop),
``steps_per_s`` (= steps / train_seconds) and ``setup_seconds`` (training-data
preparation before the loop): a wall-time budget buys fewer steps when the CPU is shared.
Prints one JSON line per (mesh, method) and one for the extraction comparison.

    python tools/bench_implicit.py [--budget 600 | --steps N] [--meshes body,torus] [--methods occ,sdf,igr]
                                   [--save DIR]  # extracted meshes + a comparison PNG
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from humanrecon.geometry.meshing import extract_mesh
from humanrecon.geometry.metrics import mesh_metrics
from humanrecon.geometry.sdf import sample_surface
from humanrecon.implicit.data import fit_mesh, fit_points
from humanrecon.implicit.train import TrainConfig

TARGETS = {"body": {"sdf": {"iou": 0.95, "chamfer_l1_mm": 2.0}, "igr": {"iou": 0.95, "chamfer_l1_mm": 2.0},
                    "occ": {"iou": 0.93}}}


def load_mesh(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth meshes in metres: the open body (rest pose) or a torus."""
    if name == "body":
        from humanrecon.body import BodyModel

        model = BodyModel.load("open")
        with torch.no_grad():
            return model().vertices[0].numpy(), model.faces
    if name == "torus":
        import trimesh

        mesh = trimesh.creation.torus(major_radius=0.3, minor_radius=0.1, major_sections=96, minor_sections=48)
        return np.asarray(mesh.vertices, dtype=np.float32), np.asarray(mesh.faces)
    raise ValueError(f"unknown mesh '{name}'")


@dataclass
class TimedConfig(TrainConfig):
    """``TrainConfig`` that notes when the training loop starts (its first learning-rate
    query), so that steps per second leave out the data preparation before it."""

    loop_start: float | None = None

    def learning_rate(self, progress: float) -> float:
        if self.loop_start is None:
            self.loop_start = time.perf_counter()
        return super().learning_rate(progress)


def fit(method: str, vertices, faces, budget: float | None, seed: int, steps: int | None = None):
    """Fit one shape for ``budget`` seconds, or for exactly ``steps`` steps when given.
    Returns the shape and its (timed) config."""
    network = {"hidden": 256, "layers": 6, "blocks": 4, "frequencies": 6 if method != "igr" else 0}
    config = TimedConfig(steps=steps or 100_000, batch_points=8192 if method != "igr" else 4096, lr=5e-4,
                         seed=seed, progress=False, max_seconds=None if steps else budget)
    if method == "igr":
        points, normals = sample_surface(vertices, faces, 100_000, seed=seed)
        return fit_points(points, config, normals, network), config
    return fit_mesh(vertices, faces, method, config, network), config


def evaluate(vertices, faces, gt_vertices, gt_faces) -> dict:
    """Metrics of one extracted mesh against the ground truth (both definitions of
    Chamfer-L1, in mm)."""
    surface = mesh_metrics(vertices, faces, gt_vertices, gt_faces, threshold=0.01)
    onet = mesh_metrics(vertices, faces, gt_vertices, gt_faces, threshold=0.01, distance="points",
                        paired_sampling=False)
    return {"iou": round(surface["iou"], 4), "chamfer_l1_mm": round(1000 * surface["chamfer_l1"], 3),
            "chamfer_l1_mm_onet": round(1000 * onet["chamfer_l1"], 3),
            "normal_consistency": round(surface["normal_consistency"], 4),
            "f_score_1cm": round(surface["f_score"], 4)}


def picture_cameras(vertices: np.ndarray, size: int = 360):
    """Three views of the body (whole, head close-up, right-hand close-up) or, for other
    meshes, three views around it (OpenCV cameras, Y up)."""
    import math

    from humanrecon.geometry.camera import Camera

    centre = 0.5 * (vertices.min(0) + vertices.max(0))
    extent = float((vertices.max(0) - vertices.min(0)).max())
    head = vertices[vertices[:, 1] > vertices[:, 1].max() - 0.25].mean(0)
    hand = vertices[vertices[:, 0].argmax()]
    whole = (centre + [0.0, 0.05 * extent, 1.45 * extent], centre, 45)
    if extent < 1.0:  # not a standing body: whole shape from three sides
        shots = [whole, (centre + [1.2 * extent, 0.6 * extent, 0.0], centre, 45),
                 (centre + [0.0, 1.45 * extent, 0.3 * extent], centre, 45)]
    else:
        shots = [whole, (head + [0.35, 0.05, 0.45], head, 40), (hand + [-0.05, 0.25, 0.25], hand - [0.07, 0, 0], 40)]
    return [Camera.look_at([eye], [target], width=size, height=int(size * 1.1), fov_x_rad=math.radians(fov))
            for eye, target, fov in shots]


def save_picture(out: Path, mesh_name: str, gt, fitted: dict) -> None:
    """One PNG: columns ground truth, then each method; rows the views of
    :func:`picture_cameras`."""
    from humanrecon.render import image_grid, render_mesh, save_image

    meshes = [gt] + [(np.asarray(m.vertices), np.asarray(m.faces)) for m in fitted.values()]
    tiles = [render_mesh(v, f, camera, light_dir=(0.3, 0.5, 1.0)).image
             for camera in picture_cameras(np.asarray(gt[0])) for v, f in meshes]
    save_image(out / f"{mesh_name}_fits.png", image_grid(tiles, cols=len(meshes), pad=4))
    print(f"wrote {out / f'{mesh_name}_fits.png'} (columns: ground truth, {', '.join(fitted)})", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=600.0, help="training seconds per fit")
    parser.add_argument("--steps", type=int, default=0,
                        help="train exactly this many steps per fit instead of --budget seconds")
    parser.add_argument("--meshes", default="body,torus")
    parser.add_argument("--methods", default="occ,sdf,igr")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-dense", action="store_true", help="skip the dense-vs-hierarchical comparison")
    parser.add_argument("--save", default="", help="write extracted meshes and a PNG into this folder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    compared = args.no_dense
    for mesh_name in args.meshes.split(","):
        vertices, faces = load_mesh(mesh_name)
        floor = mesh_metrics(vertices, faces, vertices, faces, distance="points", paired_sampling=False)
        fitted = {}
        for method in args.methods.split(","):
            start = time.perf_counter()
            shape, config = fit(method, vertices, faces, args.budget, args.seed, args.steps or None)
            shape.eval()
            end = time.perf_counter()
            train_seconds, setup_seconds = end - config.loop_start, config.loop_start - start
            steps = shape.config["steps_trained"]
            hier = extract_mesh(shape, shape.bounds.numpy(), args.resolution, inside=shape.inside)
            fitted[method] = hier.mesh
            if args.save:
                from humanrecon.io.meshes import save_mesh

                save_mesh(Path(args.save) / f"{mesh_name}_{method}.ply", hier.mesh.vertices, hier.mesh.faces)
            metrics = evaluate(hier.mesh.vertices, hier.mesh.faces, vertices, faces)
            print(json.dumps({
                "benchmark": "implicit_fit", "mesh": mesh_name, "method": method,
                "budget_s": None if args.steps else args.budget, "fixed_steps": args.steps or None,
                "threads": args.threads, "steps": steps, "train_seconds": round(train_seconds, 1),
                "steps_per_s": round(steps / train_seconds, 2), "setup_seconds": round(setup_seconds, 1), **metrics,
                "sampling_floor_mm": round(1000 * floor["chamfer_l1"], 3), "resolution": args.resolution,
                "targets": TARGETS.get(mesh_name, {}).get(method, {}),
            }), flush=True)
            if not compared:
                compared = True
                dense = extract_mesh(shape, shape.bounds.numpy(), args.resolution, inside=shape.inside,
                                     hierarchical=False)
                dense_metrics = evaluate(dense.mesh.vertices, dense.mesh.faces, vertices, faces)
                print(json.dumps({
                    "benchmark": "mise_vs_dense", "mesh": mesh_name, "method": method, "resolution": args.resolution,
                    "evaluations_ratio": round(hier.num_evaluations / dense.num_evaluations, 4),
                    "time_ratio": round(hier.seconds / dense.seconds, 4),
                    "chamfer_l1_mm_hier": metrics["chamfer_l1_mm"],
                    "chamfer_l1_mm_dense": dense_metrics["chamfer_l1_mm"],
                    "chamfer_rel_diff": round(abs(metrics["chamfer_l1_mm"] / dense_metrics["chamfer_l1_mm"] - 1), 4),
                    "targets": {"evaluations_ratio": 0.15, "chamfer_rel_diff": 0.05},
                }), flush=True)
        if args.save:
            save_picture(Path(args.save), mesh_name, (vertices, faces), fitted)


if __name__ == "__main__":
    main()
