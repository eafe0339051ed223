"""A side view of fitted bodies: where the people stand in depth, seen from the side.

The meshes are in the photo camera's frame (OpenCV: x right, y down, z forward, metres;
:func:`humanrecon.fitting.overlay.meshes_in_camera_frame`). The side camera looks along
-x from far to the right of the people (90° about the vertical axis through them), with a
long focal length, so the picture is nearly orthographic: depth (camera z) grows to the
right and one pixel is the same length everywhere. A ground line under the lowest foot
carries depth ticks in metres from the photo camera; the camera itself is drawn where it
fits (otherwise an arrow at the left edge says how far it is). Each person has the colour
it has in the overlay (:data:`PERSON_COLORS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from humanrecon.errors import InputError
from humanrecon.geometry import Camera

#: mesh colours, person ``k`` gets ``PERSON_COLORS[k % len]``; no green or red, which
#: the overlay uses for keypoints
PERSON_COLORS = (
    (0.55, 0.65, 0.95),  # blue
    (0.98, 0.68, 0.28),  # orange
    (0.74, 0.52, 0.95),  # violet
    (0.30, 0.84, 0.90),  # cyan
    (0.95, 0.55, 0.80),  # pink
    (0.93, 0.88, 0.33),  # yellow
    (0.62, 0.47, 0.33),  # brown
    (0.65, 0.65, 0.70),  # grey
)
BACKGROUND = (0.96, 0.96, 0.95)
INK = (0.25, 0.25, 0.28)
#: distance of the side camera from the people (metres): long, so nearly orthographic
SIDE_DISTANCE = 100.0


def person_colors(count: int) -> np.ndarray:
    """``(count, 3)`` RGB in [0, 1]: :data:`PERSON_COLORS`, repeated if needed."""
    return np.array([PERSON_COLORS[k % len(PERSON_COLORS)] for k in range(count)], dtype=np.float32)


@dataclass(frozen=True)
class SideFrame:
    """What the side view shows: centred on camera-frame ``(y_center, z_center)``
    (metres), ``scale`` pixels per metre, in a ``width`` x ``height`` picture;
    ``camera_shown``: whether the photo camera (the origin) is inside."""

    y_center: float
    z_center: float
    scale: float
    width: int
    height: int
    camera_shown: bool

    def to_pixel(self, y: float, z: float) -> tuple[float, float]:
        """Pixel ``(u, v)`` of camera-frame ``(y, z)`` in the plane through the people
        (exact there; ~1 % off one metre to either side)."""
        return (self.width / 2.0 + self.scale * (z - self.z_center),
                self.height / 2.0 + self.scale * (y - self.y_center))

    def depth_range(self) -> tuple[float, float]:
        """Depth z at the left and right picture edges (metres)."""
        half = self.width / 2.0 / self.scale
        return self.z_center - half, self.z_center + half


def side_framing(vertices: np.ndarray, width: int, height: int, pad: tuple[float, float] = (0.06, 0.15),
                 keep_camera: float = 0.45) -> SideFrame:
    """Where the side view looks and how much it shows.

    Args:
        vertices: ``(N, 3)`` camera-frame points (metres) of all bodies.
        width, height: the side view's size in pixels.
        pad: fractions of the picture's width and height left free at each side (room
            for the title, the person numbers and the depth labels).
        keep_camera: the photo camera (at the origin) is shown too when that keeps at
            least this fraction of the scale that shows the bodies alone.
    """
    v = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    if not len(v) or not np.isfinite(v).all():
        raise InputError("side view needs finite vertices (N, 3)")
    lo, hi = v.min(0), v.max(0)
    room = np.array([width, height], dtype=np.float64) * (1.0 - 2.0 * np.asarray(pad, dtype=np.float64))
    margin = 0.1 * max(hi[1] - lo[1], 0.5)  # a tenth of the tallest body, in depth and height

    def frame(z_lo, z_hi, y_lo, y_hi, shown):
        extent = np.array([z_hi - z_lo + 2 * margin, y_hi - y_lo + 2 * margin])
        scale = float((room / extent).min())
        return SideFrame((y_lo + y_hi) / 2.0, (z_lo + z_hi) / 2.0, scale, width, height, shown)

    bodies = frame(lo[2], hi[2], lo[1], hi[1], False)
    with_camera = frame(min(lo[2], 0.0), hi[2], min(lo[1], 0.0), max(hi[1], 0.0), True)
    return with_camera if with_camera.scale >= keep_camera * bodies.scale else bodies


def side_camera(x_center: float, y_center: float, z_center: float, scale: float, width: int,
                height: int) -> Camera:
    """The side camera: :data:`SIDE_DISTANCE` metres to the right (+x) of
    ``(x_center, y_center, z_center)``, looking at it along -x, camera-frame up (-y) up,
    focal ``scale * SIDE_DISTANCE`` pixels (``scale`` pixels per metre at ``x_center``).
    Image right is +z (away from the photo camera)."""
    target = np.array([x_center, y_center, z_center], dtype=np.float64)
    eye = target + np.array([SIDE_DISTANCE, 0.0, 0.0])
    return Camera.look_at(eye.astype(np.float32), target.astype(np.float32), (0.0, -1.0, 0.0),
                          width=width, height=height, focal=scale * SIDE_DISTANCE)


def depth_step(metres_per_pixel: float, min_pixels: float = 60.0) -> float:
    """A round tick spacing (1, 2 or 5 × 10^k metres) at least ``min_pixels`` apart."""
    target = metres_per_pixel * min_pixels
    power = 10.0 ** math.floor(math.log10(target))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * power >= target:
            return m * power
    return 10.0 * power  # pragma: no cover - the loop always returns


def render_side_view(cam_vertices, faces: np.ndarray, width: int, height: int,
                     colors: np.ndarray | None = None) -> np.ndarray:
    """The side view picture ``(height, width, 3)`` float32 RGB in [0, 1].

    Args:
        cam_vertices: ``(P, V, 3)`` fitted meshes in the photo camera's frame (metres).
        faces: ``(F, 3)`` the model's triangles (shared by all people).
        width, height: picture size in pixels.
        colors: ``(P, 3)`` mesh colours (default :func:`person_colors`).
    """
    from humanrecon.render import render_mesh

    verts = np.asarray(cam_vertices, dtype=np.float64)
    if verts.ndim != 3 or verts.shape[-1] != 3:
        raise InputError(f"cam_vertices must have shape (P, V, 3), got {verts.shape}")
    count, num_v = verts.shape[:2]
    colors = person_colors(count) if colors is None else np.asarray(colors, dtype=np.float32)
    frame = side_framing(verts.reshape(-1, 3), width, height)
    camera = side_camera(float(verts[..., 0].mean()), frame.y_center, frame.z_center, frame.scale, width, height)
    merged_faces = np.concatenate([np.asarray(faces) + p * num_v for p in range(count)])
    vertex_colors = np.repeat(colors, num_v, axis=0)
    picture = render_mesh(verts.reshape(-1, 3), merged_faces, camera, vertex_colors=vertex_colors,
                          background=BACKGROUND, ambient=0.35).image
    return _annotate(picture, frame, verts, colors)


def _annotate(picture: np.ndarray, frame: SideFrame, verts: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """Ground line with depth ticks, the photo camera (or an arrow to it), labels."""
    import cv2

    from humanrecon.render import to_uint8

    height, width = picture.shape[:2]
    canvas = np.ascontiguousarray(to_uint8(picture))
    ink = tuple(int(255 * c) for c in INK)
    font, size = cv2.FONT_HERSHEY_SIMPLEX, max(0.35, height / 1100.0)
    thick = max(1, int(round(height / 480.0)))
    # ground line, ticks every `step` metres of depth from the photo camera
    to_pixel = frame.to_pixel
    ground = float(verts[..., 1].max())  # the lowest foot (y down)
    _, v_ground = to_pixel(ground, 0.0)
    v_ground = int(round(min(v_ground, height - 1 - 3 * thick - 14 * size * 2)))
    cv2.line(canvas, (0, v_ground), (width - 1, v_ground), ink, thick, cv2.LINE_AA)
    step = depth_step(1.0 / frame.scale)
    z_left, z_right = frame.depth_range()
    for index in range(math.ceil(z_left / step), math.floor(z_right / step) + 1):
        tick = index * step
        u = int(round(to_pixel(ground, tick)[0]))
        cv2.line(canvas, (u, v_ground), (u, v_ground + 6 * thick), ink, thick, cv2.LINE_AA)
        label = f"{tick:g} m"
        (tw, th), _ = cv2.getTextSize(label, font, size, thick)
        if 0 <= u - tw // 2 and u + tw // 2 < width:
            cv2.putText(canvas, label, (u - tw // 2, v_ground + 8 * thick + th), font, size, ink, thick, cv2.LINE_AA)
    # the photo camera at the origin, looking right (+z)
    u_cam, v_cam = to_pixel(0.0, 0.0)
    if frame.camera_shown:
        s = max(8.0, height / 40.0)
        body = np.array([[u_cam - 1.6 * s, v_cam - 0.6 * s], [u_cam, v_cam - 0.6 * s],
                         [u_cam, v_cam + 0.6 * s], [u_cam - 1.6 * s, v_cam + 0.6 * s]])
        lens = np.array([[u_cam, v_cam], [u_cam + s, v_cam - 0.7 * s], [u_cam + s, v_cam + 0.7 * s]])
        for shape in (body, lens):
            cv2.fillPoly(canvas, [np.round(shape).astype(np.int32)], ink, cv2.LINE_AA)
        cv2.putText(canvas, "camera", (int(u_cam - 1.6 * s), int(v_cam - 0.9 * s)), font, size, ink, thick,
                    cv2.LINE_AA)
    else:
        label = f"camera: {z_left:.1f} m beyond the left edge"
        v = int(round(44 * size / 0.45))
        cv2.arrowedLine(canvas, (int(24 * size / 0.45) + 4, v - 4), (4, v - 4), ink, thick, cv2.LINE_AA, tipLength=0.3)
        cv2.putText(canvas, label, (int(30 * size / 0.45) + 4, v), font, size, ink, thick, cv2.LINE_AA)
    # title, and person numbers above the heads when there are several
    cv2.putText(canvas, "side view, depth from camera", (6, int(22 * size / 0.45)), font, size, ink, thick,
                cv2.LINE_AA)
    picture = canvas.astype(np.float32) / 255.0
    if len(verts) > 1:
        tops = [person[np.argmin(person[:, 1])] for person in verts]
        picture = label_people(picture, np.array([to_pixel(top[1], top[2]) for top in tops]), colors)
    return picture


def label_people(image: np.ndarray, anchors, colors) -> np.ndarray:
    """Write each person's number ``k`` (as in ``mesh_<k>.obj``) centred just above
    ``anchors (P, 2)`` pixels (non-finite: skipped), in a darker shade of ``colors (P, 3)``.
    Returns a new float32 ``(H, W, 3)`` image in [0, 1]."""
    import cv2

    from humanrecon.render import to_uint8

    canvas = np.ascontiguousarray(to_uint8(image))
    height = canvas.shape[0]
    size, thick = max(0.45, height / 800.0), max(2, int(round(height / 300.0)))
    for k, (anchor, color) in enumerate(zip(np.asarray(anchors, np.float64), np.asarray(colors))):
        if not np.isfinite(anchor).all():
            continue
        (tw, th), _ = cv2.getTextSize(str(k), cv2.FONT_HERSHEY_SIMPLEX, size, thick)
        origin = (int(round(anchor[0] - tw / 2)), int(round(max(anchor[1] - 0.6 * th, th + 2))))
        ink = tuple(int(255 * c * 0.7) for c in color)
        cv2.putText(canvas, str(k), origin, cv2.FONT_HERSHEY_SIMPLEX, size, (255, 255, 255), thick + 2, cv2.LINE_AA)
        cv2.putText(canvas, str(k), origin, cv2.FONT_HERSHEY_SIMPLEX, size, ink, thick, cv2.LINE_AA)
    return canvas.astype(np.float32) / 255.0

