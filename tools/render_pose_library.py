"""Contact sheet of the pose library (``humanrecon.body.pose_library``), for checking it by eye.

Every pose is rendered with the open body, front view then left-side view, both seen from
10° above (lying poses: from straight above, head up in the picture, then the left side),
framed around the body's bounding box at one scale for all tiles (1 px is the same length
everywhere: ``TILE_METRES`` across a tile), labelled with the pose's name and category. Writes
``pose_library.png`` (and ``pose_library_2.png``, ... when ``--per-sheet`` poses do not
fit one sheet) into ``--out``.

    python tools/render_pose_library.py [--out assets/pictures] [--size 160] [--only name,name]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from humanrecon.body import BodyModel
from humanrecon.body.pose_library import POSE_LIBRARY, library_pose
from humanrecon.geometry import Camera
from humanrecon.render import image_grid, render_mesh, save_image

#: metres covered by a tile's width and height (the tallest pose, arms up, fits)
TILE_METRES = 2.25
ELEVATION_DEG = 10.0
DISTANCE = 20.0


def part_colors(model: BodyModel) -> np.ndarray:
    """``(V, 3)`` pastel colour per vertex from its dominant skinning joint (as
    ``tools/render_body_gallery.py``)."""
    rng = np.random.default_rng(3)
    palette = 0.55 + 0.4 * rng.random((model.num_joints, 3))
    return palette[model.lbs_weights.argmax(1).cpu().numpy()]


def views(vertices: torch.Tensor, size: int, head_dir: np.ndarray | None = None) -> list[Camera]:
    """Front (from +Z) and left-side (from +X) cameras, ``ELEVATION_DEG`` above the
    horizontal, aimed at the centre of the bounding box of ``vertices (V, 3)``. With
    ``head_dir`` (3,) (a lying body), the first camera looks down from above instead, with
    the horizontal part of ``head_dir`` pointing up in the picture."""
    centre = 0.5 * (vertices.min(0).values + vertices.max(0).values)
    fov = 2.0 * np.arctan(0.5 * TILE_METRES / DISTANCE)
    e = np.radians(ELEVATION_DEG)
    first, up = (0.0, np.sin(e), np.cos(e)), (0.0, 1.0, 0.0)
    if head_dir is not None:
        first, up = (0.0, 1.0, 0.0), (float(head_dir[0]), 0.0, float(head_dir[2]))
    cams = []
    for direction, u in ((first, up), ((np.cos(e), np.sin(e), 0.0), (0.0, 1.0, 0.0))):
        eye = centre + DISTANCE * torch.tensor(direction, dtype=centre.dtype)
        cams.append(Camera.look_at(eye[None], centre[None], u, width=size, height=size, fov_x_rad=float(fov)))
    return cams


def label(image: np.ndarray, text: str, height: int) -> np.ndarray:
    """``image (H, W, 3)`` in [0, 1] with a white strip of ``height`` px on top holding ``text``."""
    strip = np.full((height, image.shape[1], 3), 255, np.uint8)
    scale = 0.36 * height / 14.0
    (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    while w > image.shape[1] - 4 and scale > 0.2:
        scale *= 0.95
        (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.putText(strip, text, (max((image.shape[1] - w) // 2, 2), height - 4), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (25, 25, 25), 1, cv2.LINE_AA)
    return np.concatenate([strip.astype(np.float32) / 255.0, image.astype(np.float32)], axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="assets/pictures")
    parser.add_argument("--size", type=int, default=160, help="tile size in pixels (default 160)")
    parser.add_argument("--cols", type=int, default=8, help="poses per row (default 8)")
    parser.add_argument("--per-sheet", type=int, default=96, help="poses per picture (default 96)")
    parser.add_argument("--only", default="", help="comma-separated pose names (default: all)")
    parser.add_argument("--name", default="pose_library", help="file name stem (default pose_library)")
    args = parser.parse_args()
    model = BodyModel.load("open")
    colors = part_colors(model)
    poses = POSE_LIBRARY
    if args.only:
        wanted = args.only.split(",")
        poses = tuple(p for p in POSE_LIBRARY if p.name in wanted)
    pairs = []
    for pose in poses:
        inputs = {k: torch.as_tensor(v)[None] for k, v in library_pose(pose.name).items()}
        with torch.no_grad():
            output = model(**inputs)
        verts, joints = output.vertices[0], output.joints[0]
        head_dir = (joints[15] - joints[0]).numpy() if pose.category == "lying" else None
        tiles = [render_mesh(verts, model.faces, cam, vertex_colors=colors).image
                 for cam in views(verts, args.size, head_dir)]
        pair = np.concatenate([tiles[0], np.full((args.size, 2, 3), 0.85, np.float32), tiles[1]], axis=1)
        pairs.append(label(pair, f"{pose.name} ({pose.category})", max(12, args.size // 11)))
    out = Path(args.out)
    for k in range(0, len(pairs), args.per_sheet):
        sheet = image_grid(pairs[k:k + args.per_sheet], cols=min(args.cols, len(pairs)), pad=6, pad_value=0.7)
        suffix = "" if k == 0 else f"_{k // args.per_sheet + 1}"
        path = save_image(out / f"{args.name}{suffix}.png", sheet)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
