"""Pictures of a body model for checking it by eye (used for the README).

Writes into ``--out`` (default ``assets/pictures``):
  * ``<name>_poses.png``: T-pose, A-pose and walking pose, each front and side view;
  * ``<name>_shapes.png``: rows = first three shape components, columns = -2σ, mean, +2σ
    (front view), all at the same scale so size differences show.

    python tools/render_body_gallery.py [--model open] [--out assets/pictures]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from humanrecon.body import BodyModel
from humanrecon.body.poses import load_pose
from humanrecon.geometry import Camera
from humanrecon.render import image_grid, render_mesh, save_image


def part_colors(model: BodyModel) -> np.ndarray:
    """``(V, 3)`` pastel colour per vertex from its dominant skinning joint."""
    rng = np.random.default_rng(3)
    palette = 0.55 + 0.4 * rng.random((model.num_joints, 3))
    return palette[model.lbs_weights.argmax(1).cpu().numpy()]


def fixed_cameras(size: int, height_m: float = 2.3) -> list[Camera]:
    """Front and left-side cameras framing a 2.3 m tall box around the origin (Y up)."""
    distance = 4.0
    fov = 2.0 * np.arctan(0.5 * height_m / distance)
    cams = []
    for eye in ((0.0, 0.0, distance), (distance, 0.0, 0.0)):
        cams.append(Camera.look_at(torch.tensor([eye]), torch.zeros(1, 3), width=size, height=size,
                                   fov_x_rad=float(fov)))
    return cams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="open")
    parser.add_argument("--out", default="assets/pictures")
    parser.add_argument("--size", type=int, default=320)
    args = parser.parse_args()
    model = BodyModel.load(args.model)
    name = Path(args.model).stem if args.model not in ("open", "open-hand") else args.model.replace("-", "_") + "_body"
    colors = part_colors(model)
    front, side = fixed_cameras(args.size)
    out = Path(args.out)

    def render(**inputs) -> list[np.ndarray]:
        with torch.no_grad():
            verts = model(**{k: torch.as_tensor(v)[None] for k, v in inputs.items()}).vertices[0]
        verts = verts - verts.mean(0) * torch.tensor([1.0, 0.0, 1.0])  # centre horizontally
        return [render_mesh(verts, model.faces, cam, vertex_colors=colors).image for cam in (front, side)]

    views = []
    for pose in ("t", "a", "walk"):
        views += render(**load_pose(pose, 23, model.joint_names))
    path = save_image(out / f"{name}_poses.png", image_grid(views, cols=6))
    print(f"wrote {path}")

    rows = []
    for k in range(3):
        for sigma in (-2.0, 0.0, 2.0):
            betas = np.zeros(model.num_betas, dtype=np.float32)
            betas[k] = sigma
            rows.append(render(betas=betas)[0])
    path = save_image(out / f"{name}_shapes.png", image_grid(rows, cols=3))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
