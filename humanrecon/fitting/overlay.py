"""Pictures of fits: fitted meshes rendered over the photo, with the detected keypoints
and the model's reprojected keypoints, next to a side view of the fitted bodies
(:mod:`humanrecon.fitting.side_view`). Each person has its own mesh colour, the same in
both views."""

from __future__ import annotations

import numpy as np
import torch

from humanrecon.body.keypoints import BODY25_EDGES, BODY25_NAMES
from humanrecon.fitting.side_view import PERSON_COLORS, label_people, person_colors, render_side_view
from humanrecon.geometry import Camera

DETECTED_COLOR = (0.1, 0.85, 0.2)
MODEL_COLOR = (0.9, 0.1, 0.1)
MESH_COLOR = PERSON_COLORS[0]


def meshes_in_camera_frame(vertices: torch.Tensor, faces: np.ndarray, cameras: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Put ``P`` fitted meshes ``vertices (P, V, 3)`` (model frame) into their camera's frame
    (``x_cam = R x + t`` per person) and merge them into one mesh: vertices ``(P V, 3)``,
    faces ``(P F, 3)``."""
    cam_vertices = cameras.world_to_camera(vertices).detach().cpu().numpy()
    num_v = vertices.shape[1]
    merged_faces = np.concatenate([faces + p * num_v for p in range(len(cam_vertices))])
    return cam_vertices.reshape(-1, 3), merged_faces


def draw_keypoints(image: np.ndarray, points: np.ndarray, confidence: np.ndarray, color, radius: float) -> np.ndarray:
    """Draw BODY_25 keypoints ``(K, 2)`` with confidence > 0 and their skeleton."""
    from humanrecon.render import draw_points, draw_skeleton

    index = {n: i for i, n in enumerate(BODY25_NAMES)}
    seen = confidence > 0
    edges = [(index[a], index[b]) for a, b in BODY25_EDGES if seen[index[a]] and seen[index[b]]]
    shown = np.where(seen[:, None], points, np.nan)
    if edges:
        image = draw_skeleton(image, shown, edges, color=color, thickness=max(1, int(radius / 2)), point_color=None)
    return draw_points(image, shown, colors=color, radius=radius)


def _above_head(points: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """A pixel above a person's keypoints ``(25, 2)``: above the highest one by a tenth of
    the keypoints' height (about the top of the head); NaN without keypoints."""
    seen = points[confidence > 0]
    if not len(seen):
        return np.full(2, np.nan)
    top = seen[np.argmin(seen[:, 1])]
    return top - [0.0, 0.1 * (seen[:, 1].max() - seen[:, 1].min())]


def fit_overlay(image: np.ndarray, vertices: torch.Tensor, faces: np.ndarray, cameras: Camera,
                detected: np.ndarray, confidence: np.ndarray, reprojected: np.ndarray,
                alpha: float = 0.6, side_view: bool = True) -> np.ndarray:
    """The overlay picture: ``(H, W, 3)`` float RGB in [0, 1], or with ``side_view``
    ``(H, 2 W, 3)``: the overlay (the photo's size) and, to its right, the side view.

    Args:
        image: the photo ``(H, W, 3)`` in [0, 1].
        vertices: ``(P, V, 3)`` fitted meshes, model frame; ``cameras``: batch ``P``.
        detected, confidence: ``(P, 25, 2)`` and ``(P, 25)`` BODY_25 detections (green).
        reprojected: ``(P, 25, 2)`` model keypoints in pixels (red).
        alpha: opacity of the meshes over the photo.
        side_view: add :func:`~humanrecon.fitting.side_view.render_side_view` of the
            meshes (same colours per person) at the right.
    """
    from humanrecon.render import render_mesh

    height, width = image.shape[:2]
    count = len(vertices)
    verts, faces_all = meshes_in_camera_frame(vertices, faces, cameras)
    colors = person_colors(count)
    vertex_colors = np.repeat(colors, verts.shape[0] // count, axis=0)
    view = Camera(cameras.K[:1], torch.eye(3)[None], torch.zeros(1, 3), width, height)
    picture = render_mesh(verts, faces_all, view, vertex_colors=vertex_colors, background=image, alpha=alpha).image
    radius = max(2.0, 0.006 * max(width, height))
    for p in range(len(detected)):
        picture = draw_keypoints(picture, detected[p], confidence[p], DETECTED_COLOR, radius)
        model_conf = (confidence[p] > 0).astype(np.float32)
        picture = draw_keypoints(picture, reprojected[p], model_conf, MODEL_COLOR, radius * 0.6)
    if count > 1:  # number k of mesh_<k>.obj above each head
        picture = label_people(picture, np.array([_above_head(detected[p], confidence[p]) for p in range(count)]),
                               colors)
    if not side_view:
        return picture
    side = render_side_view(verts.reshape(count, -1, 3), faces, width, height, colors)
    return np.concatenate([picture, side], axis=1)
