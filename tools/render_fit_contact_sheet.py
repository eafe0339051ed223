"""A contact sheet of held-out mocap frames fitted from their projected keypoints: per row
one subject of ``tools/bench_fit.py``'s ``mocap`` family (CMU validation subjects, never
used to build a prior, a start bank or LGD's training data; σ = 2 px, detector faults, the
same seed-0 subjects as the benchmark), the truth (grey) beside the fit (blue), seen from
the photo camera and from its side, with the subject's PA-MPJPE.

The fit is similarity-aligned to the truth (what PA-MPJPE and the PA vertex error
measure), then both are turned about the vertical so that the photo camera looks from the
front of the picture: the "camera" columns show what the keypoints constrain, the "side"
columns the depth that a single photo leaves to the fitter's prior and search. Rows are
the subjects at evenly spaced ranks of error, from the best to the worst (the sheet shows
the spread of errors, neither the best cases alone nor a lucky sample).

    python tools/render_fit_contact_sheet.py [--rows 8] [--n 100] [--method auto]
                                             [--out assets/pictures/fit_mocap_contact_sheet.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fit import family_poses, subsample

from humanrecon.body import BodyModel
from humanrecon.fitting.lgd import make_fitter
from humanrecon.fitting.synthetic import DETECTOR_FAULTS, pa_mpjpe, procrustes_align, sample_subjects
from humanrecon.geometry.rotations import axis_angle_to_matrix
from humanrecon.render.grid import image_grid
from humanrecon.render.raycast import render_turntable

TRUTH_COLOR = (0.72, 0.72, 0.74)
FIT_COLOR = (0.55, 0.65, 0.95)


def facing_camera(vertices: np.ndarray, camera_centre: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    """``vertices (V, 3)`` turned about the vertical through ``pivot (3,)`` so that the
    camera centre (model frame, metres) lies towards +Z (the turntable's front)."""
    d = camera_centre - pivot
    yaw = float(np.arctan2(d[0], d[2]))
    turn = axis_angle_to_matrix(torch.tensor([0.0, -yaw, 0.0])).numpy()
    return (vertices - pivot) @ turn.T + pivot


def label(image: np.ndarray, text: str) -> np.ndarray:
    import cv2

    canvas = np.ascontiguousarray((image * 255).astype(np.uint8))
    cv2.putText(canvas, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (60, 60, 70), 1, cv2.LINE_AA)
    return canvas.astype(np.float32) / 255.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--n", type=int, default=100, help="the benchmark's subjects (rows are spread over them)")
    parser.add_argument("--method", default="auto")
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--out", default="assets/pictures/fit_mocap_contact_sheet.png")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = BodyModel.load("open")
    poses = subsample(family_poses("mocap", model), args.n)
    truth = sample_subjects(model, args.n, noise_px=2.0, drop=0.1, seed=0, poses=poses, faults=DETECTOR_FAULTS)
    result = make_fitter(model, args.method).fit(truth.keypoints, truth.confidence, truth.intrinsics,
                                                 truth.image_size, progress=False)
    with torch.no_grad():
        fit = model(betas=result.betas, global_orient=result.global_orient, body_pose=result.body_pose)
    error = pa_mpjpe(fit.joints[:, :model.num_joints], truth.joints) * 1000
    aligned = procrustes_align(fit.vertices, truth.vertices)
    centres = truth.camera.center  # (N, 3) model frame
    faces = model.faces.numpy() if torch.is_tensor(model.faces) else np.asarray(model.faces)
    cells = []
    ranks = np.linspace(0, args.n - 1, args.rows).round().astype(int)
    for rank, i in zip(ranks, error.argsort().numpy()[ranks]):
        pivot = truth.joints[i, 0].numpy()
        meshes = [facing_camera(v[i].numpy(), centres[i].numpy(), pivot) for v in (truth.vertices, aligned)]
        extent = float(np.linalg.norm(np.ptp(np.concatenate(meshes), axis=0)))
        distance = 1.1 * 0.5 * extent / np.sin(np.radians(20.0))
        views = [render_turntable(m, faces, 4, width=args.size, height=args.size, distance=distance,
                                  color=c, background=(1.0, 1.0, 1.0))
                 for m, c in zip(meshes, (TRUTH_COLOR, FIT_COLOR))]
        cells += [label(views[0][0].image, f"#{i} truth, camera (rank {rank + 1}/{args.n})"),
                  label(views[1][0].image, f"fit {error[i]:.0f} mm"),
                  label(views[0][1].image, "truth, side"), label(views[1][1].image, "fit, side")]
    sheet = image_grid(cells, cols=4, pad=2, pad_value=0.8)
    import cv2

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor((np.clip(sheet, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
    print(f"{out}: {args.rows} of {args.n} subjects by rank of error, mean PA-MPJPE of all {float(error.mean()):.1f} mm")


if __name__ == "__main__":
    main()
