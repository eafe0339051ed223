"""Batched pinhole camera in the OpenCV convention.

Frames and units
----------------
* Camera frame (OpenCV): x right, y down, z forward (into the scene).
* Extrinsics are world-to-camera: ``x_cam = R @ x_world + t`` with ``R (B, 3, 3)``,
  ``t (B, 3)``. World coordinates are in metres.
* Intrinsics ``K (B, 3, 3)`` are in pixels. Pixel ``(i, j)`` (column ``i``, row ``j``)
  covers ``[i, i+1) x [j, j+1)``, so its centre, through which its ray passes, is at
  ``(i + 0.5, j + 0.5)``. A principal point ``(W/2, H/2)`` is the image centre.
* Blender/NeRF ``transform_matrix`` is camera-to-world in OpenGL axes (x right, y up,
  z backward); :meth:`Camera.from_opengl_c2w` / :meth:`Camera.to_opengl_c2w` convert.

Everything is made of torch ops, so projections, rays and constructors are
differentiable w.r.t. ``K``, ``R``, ``t`` and the points.
"""

from __future__ import annotations

import math
from typing import Sequence, Union

import numpy as np
import torch

from humanrecon.errors import InputError, InputIndexError

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence[float], float]

# OpenGL camera axes (x right, y up, z back) <-> OpenCV axes (x right, y down, z forward).
_GL_FROM_CV_DIAG = (1.0, -1.0, -1.0)


# --------------------------------------------------------------------------- helpers
def _infer_dtype_device(*values: object) -> tuple[torch.dtype, torch.device]:
    """Floating dtype and device of the torch tensors among ``values``.

    Non-floating or non-tensor inputs (numpy, lists, floats) default to float32 on CPU;
    torch floating tensors keep their (promoted) dtype and the first one's device.
    """
    dtype = None
    device = None
    for v in values:
        if isinstance(v, torch.Tensor):
            if device is None:
                device = v.device
            if v.is_floating_point():
                dtype = v.dtype if dtype is None else torch.promote_types(dtype, v.dtype)
    return dtype or torch.float32, device or torch.device("cpu")


def _as_tensor(x: ArrayLike, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Convert ``x`` to a tensor of ``dtype`` on ``device`` keeping autograd history."""
    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=dtype)
    try:
        return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype, device=device)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be array-like of numbers, got {type(x).__name__}") from exc


def _check_finite(x: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(x.detach()).all()):
        raise InputError(f"{name} must be finite, got NaN or inf in tensor of shape {tuple(x.shape)}")


def _batched(x: torch.Tensor, name: str, item_shape: tuple[int, ...]) -> torch.Tensor:
    """Check ``x`` is ``item_shape`` or ``(B, *item_shape)``; return it with a batch dim."""
    if tuple(x.shape) == item_shape:
        return x.unsqueeze(0)
    if x.dim() == len(item_shape) + 1 and tuple(x.shape[1:]) == item_shape and x.shape[0] > 0:
        return x
    want = "x".join(map(str, item_shape))
    raise InputError(f"{name} must have shape ({want}) or (B, {want}), got {tuple(x.shape)}")


def _broadcast_batch(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Expand batch dims of size 1 to the common batch size; error on other mismatches."""
    sizes = {name: int(v.shape[0]) for name, v in tensors.items()}
    b = max(sizes.values())
    bad = {n: s for n, s in sizes.items() if s not in (1, b)}
    if bad:
        raise InputError(f"inconsistent batch sizes {sizes}: each must be 1 or {b}")
    return {n: v.expand(b, *v.shape[1:]) for n, v in tensors.items()}


def _normalize(v: torch.Tensor, name: str, eps: float = 1e-12) -> torch.Tensor:
    norm = v.norm(dim=-1, keepdim=True)
    if bool((norm.detach() <= eps).any()):
        raise InputError(f"{name} has (near-)zero length; cannot build a camera frame")
    return v / norm


def intrinsics_from_focal(fx: ArrayLike, fy: ArrayLike, cx: ArrayLike, cy: ArrayLike) -> torch.Tensor:
    """Pinhole intrinsics from focal lengths and principal point (all in pixels).

    Each argument is a scalar or a tensor of shape ``(B,)``; they broadcast together.
    Returns ``K`` of shape ``(*batch, 3, 3)`` (``(3, 3)`` for scalar inputs), float32 unless a
    floating torch tensor input sets the dtype. Differentiable w.r.t. tensor inputs.
    """
    dtype, device = _infer_dtype_device(fx, fy, cx, cy)
    fx, fy, cx, cy = (
        _as_tensor(v, n, dtype, device) for v, n in ((fx, "fx"), (fy, "fy"), (cx, "cx"), (cy, "cy"))
    )
    fx, fy, cx, cy = torch.broadcast_tensors(fx, fy, cx, cy)
    zero, one = torch.zeros_like(fx), torch.ones_like(fx)
    rows = [fx, zero, cx, zero, fy, cy, zero, zero, one]
    return torch.stack(rows, dim=-1).reshape(*fx.shape, 3, 3)


def focal_from_fov(fov_rad: ArrayLike, size: int) -> torch.Tensor:
    """Focal length in pixels for a full field of view ``fov_rad`` across ``size`` pixels."""
    dtype, device = _infer_dtype_device(fov_rad)
    fov = _as_tensor(fov_rad, "fov", dtype, device)
    if bool(((fov.detach() <= 0) | (fov.detach() >= math.pi)).any()):
        raise InputError(f"field of view must lie in (0, pi) radians, got {fov.detach().cpu().tolist()}")
    return 0.5 * size / torch.tan(0.5 * fov)


def intrinsics_from_fov(fov_x_rad: ArrayLike, width: int, height: int, fov_y_rad: ArrayLike | None = None) -> torch.Tensor:
    """Intrinsics with the principal point at the image centre ``(W/2, H/2)``.

    ``fov_x_rad`` (scalar or ``(B,)``) is the horizontal field of view; ``fov_y_rad``
    defaults to square pixels (``fy = fx``). Returns ``K (*batch, 3, 3)`` in pixels.
    """
    fx = focal_from_fov(fov_x_rad, width)
    fy = fx if fov_y_rad is None else focal_from_fov(fov_y_rad, height)
    return intrinsics_from_focal(fx, fy, width / 2.0, height / 2.0)


# --------------------------------------------------------------------------- camera
class Camera:
    """A batch of ``B`` pinhole cameras sharing one image size (OpenCV convention).

    Attributes:
        K: ``(B, 3, 3)`` intrinsics in pixels.
        R: ``(B, 3, 3)`` world-to-camera rotation.
        t: ``(B, 3)`` world-to-camera translation in metres (``x_cam = R x_world + t``).
        width, height: image size in pixels.

    Unbatched ``K (3, 3)``, ``R (3, 3)``, ``t (3,)`` get a batch dim; batch dims of size 1
    broadcast against the others. ``dtype`` defaults to float32 (a floating torch input
    keeps its dtype, e.g. float64 for gradcheck); the device follows the first tensor.
    ``R`` is not checked for orthonormality (so it stays free for optimisation).
    """

    def __init__(
        self,
        K: ArrayLike,
        R: ArrayLike,
        t: ArrayLike,
        width: int,
        height: int,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        inf_dtype, inf_device = _infer_dtype_device(K, R, t)
        dtype = dtype or inf_dtype
        device = torch.device(device) if device is not None else inf_device
        for name, size in (("width", width), ("height", height)):
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
                raise InputError(f"{name} must be a positive int, got {size!r}")
        tensors = {}
        for name, value, shape in (("K", K, (3, 3)), ("R", R, (3, 3)), ("t", t, (3,))):
            x = _batched(_as_tensor(value, name, dtype, device), name, shape)
            _check_finite(x, name)
            tensors[name] = x
        tensors = _broadcast_batch(tensors)
        self.K: torch.Tensor = tensors["K"]
        self.R: torch.Tensor = tensors["R"]
        self.t: torch.Tensor = tensors["t"]
        self.width = int(width)
        self.height = int(height)

    # ------------------------------------------------------------- container protocol
    @property
    def batch_size(self) -> int:
        return int(self.K.shape[0])

    def __len__(self) -> int:
        return self.batch_size

    @property
    def device(self) -> torch.device:
        return self.K.device

    @property
    def dtype(self) -> torch.dtype:
        return self.K.dtype

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "Camera":
        """Copy on another device and/or dtype (differentiable)."""
        kw = {"device": device, "dtype": dtype}
        return Camera(self.K.to(**kw), self.R.to(**kw), self.t.to(**kw), self.width, self.height)

    def __getitem__(self, index: int | slice | Sequence[int] | torch.Tensor) -> "Camera":
        """Select cameras, always keeping the batch dim: ``cam[2]`` has batch size 1."""
        if isinstance(index, (int, np.integer)):
            if not -self.batch_size <= index < self.batch_size:
                raise InputIndexError(f"camera index {index} out of range for batch size {self.batch_size}")
            index = slice(int(index), int(index) + 1 if index != -1 else None)
        if isinstance(index, torch.Tensor):
            index = index.to(self.device)
        K, R, t = self.K[index], self.R[index], self.t[index]
        if K.shape[0] == 0:
            raise InputIndexError(f"camera index {index!r} selects no camera")
        return Camera(K, R, t, self.width, self.height)

    @staticmethod
    def cat(cameras: Sequence["Camera"]) -> "Camera":
        """Concatenate cameras with the same image size along the batch dim."""
        if not cameras:
            raise InputError("cameras must be a non-empty sequence")
        sizes = {(c.width, c.height) for c in cameras}
        if len(sizes) != 1:
            raise InputError(f"cameras must share one image size, got {sorted(sizes)}")
        w, h = sizes.pop()
        cat = lambda name: torch.cat([getattr(c, name) for c in cameras])
        return Camera(cat("K"), cat("R"), cat("t"), w, h)

    def __repr__(self) -> str:
        return (
            f"Camera(batch_size={self.batch_size}, width={self.width}, height={self.height}, "
            f"dtype={self.dtype}, device={self.device})"
        )

    # ------------------------------------------------------------- derived quantities
    @property
    def center(self) -> torch.Tensor:
        """World positions of the camera centres ``(B, 3)``: ``-R^T t``."""
        return -(self.R.transpose(-1, -2) @ self.t.unsqueeze(-1)).squeeze(-1)

    @property
    def fx(self) -> torch.Tensor:
        return self.K[:, 0, 0]

    @property
    def fy(self) -> torch.Tensor:
        return self.K[:, 1, 1]

    @property
    def fov_x(self) -> torch.Tensor:
        """Horizontal field of view in radians ``(B,)`` (``2 atan(W / 2 fx)``)."""
        return 2.0 * torch.atan(0.5 * self.width / self.fx)

    @property
    def fov_y(self) -> torch.Tensor:
        """Vertical field of view in radians ``(B,)`` (``2 atan(H / 2 fy)``)."""
        return 2.0 * torch.atan(0.5 * self.height / self.fy)

    @property
    def optical_axis(self) -> torch.Tensor:
        """World direction of each camera's +z (viewing) axis ``(B, 3)``, unit length for orthonormal R."""
        return self.R[:, 2, :]

    # ------------------------------------------------------------- transforms
    def _points(self, points: ArrayLike, name: str = "points", last: int = 3) -> torch.Tensor:
        """Accept ``(B, N, last)`` or ``(N, last)`` (shared by all cameras); return ``(B, N, last)``."""
        p = _as_tensor(points, name, self.dtype, self.device)
        if p.dim() == 2 and p.shape[-1] == last:
            p = p.unsqueeze(0)
        if p.dim() != 3 or p.shape[-1] != last or p.shape[0] not in (1, self.batch_size):
            raise InputError(
                f"{name} must have shape (B, N, {last}) or (N, {last}) with B={self.batch_size}, "
                f"got {tuple(p.shape)}"
            )
        return p.expand(self.batch_size, *p.shape[1:])

    def world_to_camera(self, points: ArrayLike) -> torch.Tensor:
        """World points ``(B, N, 3)`` (or ``(N, 3)``) -> camera-frame points ``(B, N, 3)``, metres."""
        p = self._points(points)
        return p @ self.R.transpose(-1, -2) + self.t.unsqueeze(1)

    def camera_to_world(self, points: ArrayLike) -> torch.Tensor:
        """Camera-frame points ``(B, N, 3)`` (or ``(N, 3)``) -> world points ``(B, N, 3)``: ``R^T (x - t)``."""
        p = self._points(points)
        return (p - self.t.unsqueeze(1)) @ self.R

    def project(self, points: ArrayLike, return_depth: bool = False):
        """Project world points ``(B, N, 3)`` to pixel coordinates ``(B, N, 2)``.

        Pixel coordinates follow the ``+0.5`` centre convention of the module docstring.
        With ``return_depth`` also returns the camera-frame z depth ``(B, N)`` in metres;
        points with depth ``<= 0`` are behind the camera and their pixels are meaningless.
        """
        cam = self.world_to_camera(points)
        depth = cam[..., 2]
        uvw = cam @ self.K.transpose(-1, -2)
        pixels = uvw[..., :2] / uvw[..., 2:3]
        return (pixels, depth) if return_depth else pixels

    def pixels_to_camera_dirs(self, pixels: ArrayLike) -> torch.Tensor:
        """Pixels ``(B, N, 2)`` -> camera-frame directions ``(B, N, 3)`` with ``z = 1`` (``K^-1 [u, v, 1]``)."""
        px = self._points(pixels, "pixels", last=2)
        homo = torch.cat([px, torch.ones_like(px[..., :1])], dim=-1)
        return torch.linalg.solve(self.K.unsqueeze(1), homo.unsqueeze(-1)).squeeze(-1)

    def unproject(self, pixels: ArrayLike, depth: ArrayLike) -> torch.Tensor:
        """Lift pixels ``(B, N, 2)`` with z-depths ``(B, N)`` (metres) to world points ``(B, N, 3)``."""
        dirs = self.pixels_to_camera_dirs(pixels)
        d = _as_tensor(depth, "depth", self.dtype, self.device)
        if d.dim() == 1:
            d = d.unsqueeze(0)
        if d.dim() != 2 or d.shape[0] not in (1, self.batch_size) or d.shape[1] != dirs.shape[1]:
            raise InputError(f"depth must have shape (B, N)=({self.batch_size}, {dirs.shape[1]}), got {tuple(d.shape)}")
        return self.camera_to_world(dirs * d.unsqueeze(-1))

    def pixel_grid(self) -> torch.Tensor:
        """Centres of all pixels ``(H, W, 2)`` as ``(i + 0.5, j + 0.5)`` = (column, row)."""
        kw = {"dtype": self.dtype, "device": self.device}
        u = torch.arange(self.width, **kw) + 0.5
        v = torch.arange(self.height, **kw) + 0.5
        vv, uu = torch.meshgrid(v, u, indexing="ij")
        return torch.stack([uu, vv], dim=-1)

    def rays(self, pixels: ArrayLike | None = None, normalize: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """World-frame rays ``(origins, directions)``.

        Without ``pixels``: one ray per pixel centre, both of shape ``(B, H, W, 3)``.
        With ``pixels (B, N, 2)`` (or ``(N, 2)``): shapes ``(B, N, 3)``.
        Directions are unit length if ``normalize`` (then a ray parameter is Euclidean
        distance in metres); otherwise they have camera-frame ``z = 1``, so the ray
        parameter equals z-depth.
        """
        if pixels is None:
            grid = self.pixel_grid().reshape(1, -1, 2)
            o, d = self.rays(grid, normalize=normalize)
            shape = (self.batch_size, self.height, self.width, 3)
            return o.reshape(shape), d.reshape(shape)
        dirs_cam = self.pixels_to_camera_dirs(pixels)
        dirs = dirs_cam @ self.R  # R^T d for row vectors
        if normalize:
            dirs = dirs / dirs.norm(dim=-1, keepdim=True)
        origins = self.center.unsqueeze(1).expand_as(dirs)
        return origins, dirs

    # ------------------------------------------------------------- constructors
    @classmethod
    def from_fov(
        cls,
        fov_x_rad: ArrayLike,
        width: int,
        height: int,
        R: ArrayLike | None = None,
        t: ArrayLike | None = None,
        fov_y_rad: ArrayLike | None = None,
    ) -> "Camera":
        """Centred-principal-point camera from a horizontal FOV (radians; square pixels by default).

        ``R`` defaults to the identity and ``t`` to zero (camera at the world origin
        looking down world +z).
        """
        K = intrinsics_from_fov(fov_x_rad, width, height, fov_y_rad)
        dtype, device = _infer_dtype_device(K, R, t)
        R = torch.eye(3, dtype=dtype, device=device) if R is None else R
        t = torch.zeros(3, dtype=dtype, device=device) if t is None else t
        return cls(K, R, t, width, height)

    @classmethod
    def look_at(
        cls,
        eye: ArrayLike,
        target: ArrayLike,
        up: ArrayLike = (0.0, 1.0, 0.0),
        *,
        width: int,
        height: int,
        fov_x_rad: ArrayLike | None = None,
        focal: ArrayLike | None = None,
    ) -> "Camera":
        """Cameras at ``eye (B, 3)`` looking at ``target (B, 3)`` (metres, world frame).

        ``up`` (3,) or (B, 3) is the world up direction: it appears pointing to the top of
        the image (image -y), so a Y-up mesh renders upright. Give either ``fov_x_rad``
        (horizontal FOV, radians) or ``focal`` (pixels, ``fx = fy``); default FOV is 60°.
        The principal point is the image centre. Raises ``ValueError`` if ``up`` is
        parallel to the viewing direction.
        """
        dtype, device = _infer_dtype_device(eye, target, up)
        eye_t = _batched(_as_tensor(eye, "eye", dtype, device), "eye", (3,))
        target_t = _batched(_as_tensor(target, "target", dtype, device), "target", (3,))
        up_t = _batched(_as_tensor(up, "up", dtype, device), "up", (3,))
        b = _broadcast_batch({"eye": eye_t, "target": target_t, "up": up_t})
        z = _normalize(b["target"] - b["eye"], "target - eye")
        x = _normalize(torch.linalg.cross(z, b["up"]), "forward x up (up parallel to view direction)")
        y = torch.linalg.cross(z, x)
        R = torch.stack([x, y, z], dim=-2)  # rows = camera axes in world
        t = -(R @ b["eye"].unsqueeze(-1)).squeeze(-1)
        if fov_x_rad is not None and focal is not None:
            raise InputError("give either fov_x_rad or focal, not both")
        if focal is not None:
            K = intrinsics_from_focal(focal, focal, width / 2.0, height / 2.0)
        else:
            K = intrinsics_from_fov(math.radians(60.0) if fov_x_rad is None else fov_x_rad, width, height)
        return cls(K.to(dtype=dtype, device=device), R, t, width, height)

    @classmethod
    def from_opengl_c2w(cls, c2w: ArrayLike, K: ArrayLike, width: int, height: int) -> "Camera":
        """From Blender/NeRF camera-to-world matrices ``(B, 4, 4)`` or ``(B, 3, 4)`` in OpenGL axes.

        OpenGL camera axes are x right, y up, z backward; the result is OpenCV world-to-camera.
        """
        dtype, device = _infer_dtype_device(c2w, K)
        m = _as_tensor(c2w, "c2w", dtype, device)
        if m.dim() == 2:
            m = m.unsqueeze(0)
        if m.dim() != 3 or m.shape[-1] != 4 or m.shape[-2] not in (3, 4):
            raise InputError(f"c2w must have shape (4, 4), (3, 4), (B, 4, 4) or (B, 3, 4), got {tuple(m.shape)}")
        _check_finite(m, "c2w")
        flip = torch.tensor(_GL_FROM_CV_DIAG, dtype=dtype, device=device)
        rot_c2w_cv = m[:, :3, :3] * flip  # scale columns: R_gl @ diag(1, -1, -1)
        R = rot_c2w_cv.transpose(-1, -2)
        t = -(R @ m[:, :3, 3:4]).squeeze(-1)
        return cls(K, R, t, width, height)

    def viewmats_and_Ks(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(viewmats (B, 4, 4), K (B, 3, 3))`` for :func:`humanrecon.splat.rasterize` (gsplat's layout).

        ``viewmats`` are world-to-camera in OpenCV axes: ``[[R, t], [0, 0, 0, 1]]``, so
        ``viewmats @ [x_world, 1] = [R x_world + t, 1]`` (metres); ``K`` is in pixels.
        Differentiable w.r.t. ``R``, ``t`` and ``K``; dtype and device of the camera.
        """
        top = torch.cat([self.R, self.t.unsqueeze(-1)], dim=-1)  # (B, 3, 4)
        bottom = torch.zeros_like(top[:, :1, :])
        bottom[..., 3] = 1.0
        return torch.cat([top, bottom], dim=1), self.K

    def to_opengl_c2w(self) -> torch.Tensor:
        """Camera-to-world matrices ``(B, 4, 4)`` in OpenGL axes (Blender/NeRF ``transform_matrix``)."""
        flip = torch.tensor(_GL_FROM_CV_DIAG, dtype=self.dtype, device=self.device)
        rot = self.R.transpose(-1, -2) * flip
        top = torch.cat([rot, self.center.unsqueeze(-1)], dim=-1)
        bottom = torch.zeros_like(top[:, :1, :])
        bottom = torch.cat([bottom[..., :3], torch.ones_like(bottom[..., :1])], dim=-1)
        return torch.cat([top, bottom], dim=1)
