"""Motion capture onto a body model by fitting (not by copying joint angles): the body's
``global_orient``, ``body_pose``, ``transl`` per frame and one shape ``betas`` per clip
are optimised so that its joints land on the mocap skeleton's joints.

Why fitting: a mocap rig's joints have their own rest orientations, bone lengths and
twist conventions (the Character Creator rig's thigh bone points along +Y of its own
frame, CMU's along the femur), so copied Euler angles pose another skeleton wrongly. Joint
*positions* mean the same on every rig: a knee is a knee.

The recipe (:func:`retarget`):

1. **Frames and units.** Frames are subsampled to ``fps`` (the T-pose in the first frame
   of the Daz-friendly conversion dropped); the up axis is the one along which the
   skeleton's ankles-to-head vector points in most frames, turned to +Y (the body's up);
   the unit scale (metres per file unit) is the ratio of the body's mean-shape limb
   lengths to the mocap's (thighs, shins, upper arms, forearms), snapped to the nearest
   unit of :data:`UNITS` within ±25 % (a person's limbs are 0.8-1.25 × the mean's), so a
   tall subject in centimetres stays tall instead of being shrunk to the mean body; or
   ``RetargetSettings.scale`` when given.
2. **Shape.** On up to ``shape_frames`` frames spread over the clip: ``betas`` shared,
   each frame's pose free, from a torso alignment (Kabsch on hips, shoulders and neck).
3. **Sequence.** The clip in chunks of ``chunk`` consecutive frames, ``betas`` fixed,
   each chunk **warm-started from the last pose of the one before** (root from the
   torso alignment).

Energy per frame (metres): ``Σ_m w_m |J_m + t − P_m|²`` over the mapped joints, plus
``bone_weight Σ |û_body − û_mocap|²`` over the mapped bones' unit directions (the
mocap's joints are not placed exactly where the body's are; directions agree anyway),
``limit_weight Σ excess²`` beyond the anatomical joint limits
(:func:`humanrecon.fitting.priors.joint_limits`), a weak pull of unobserved rotations
(twists, wrists, feet) towards rest, ``smooth_weight`` on frame-to-frame pose changes and
``|β|²/100``. Adam on axis-angles.

Skeleton tables (:data:`~humanrecon.body.mocap_skeletons.SKELETONS`): body joint → mocap joint, per flavour: ``daz``
(cgspeed's "Daz-friendly" CMU conversion: hip, abdomen, chest, lThigh, ...), ``cmu``
(CMU's own names: lfemur, ltibia, ...), ``cc`` (Character Creator ``CC_Base_*``); found
by name (:func:`skeleton_for`). The body can be the open body or any SMPL / SMPL+H /
SMPL-X file (their first 21 body joints are SMPL's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from humanrecon.body.mocap_skeletons import SKELETONS, Skeleton, skeleton_for
from humanrecon.errors import InputError, PoseFileError

__all__ = ["SKELETONS", "Retargeted", "RetargetSettings", "Skeleton", "retarget", "retarget_picture",
           "skeleton_for", "write_retargeted"]

#: limbs whose lengths set the unit scale (body joint pairs)
SCALE_BONES = (("left_hip", "left_knee"), ("right_hip", "right_knee"), ("left_knee", "left_ankle"),
               ("right_knee", "right_ankle"), ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
               ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"))
#: units BVH files are written in: metres per unit (CMU's ASF unit is 1/0.45 inches)
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "foot": 0.3048, "cmu": 0.0254 / 0.45}
#: how far (ratio) the limb-length estimate may be from a unit to snap to it
UNIT_TOLERANCE = 1.25
#: the limb joints, placed alike on every rig: the headline error of a retargeted clip
LIMB_JOINTS = ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_shoulder",
               "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist")
#: joints of the torso alignment that starts each frame's root rotation
TORSO = ("left_hip", "right_hip", "left_shoulder", "right_shoulder", "neck")


@dataclass
class Retargeted:
    """A retargeted clip: the ``motion`` (:class:`humanrecon.body.motion.Motion`, the
    body's frame: Y up, metres), which source ``frames`` it holds, the mocap joints
    ``target (T, M, 3)`` and the fitted body's ``fitted (T, M, 3)`` (metres, same frame)
    for the ``joint_names`` (M), the ``scale`` (metres per file unit), the ``skeleton``
    name and the fit's errors: ``error_mm`` (mean joint distance over all frames and
    mapped joints) and ``joint_error_mm`` per joint."""

    motion: object
    frames: np.ndarray
    target: np.ndarray
    fitted: np.ndarray
    joint_names: tuple[str, ...]
    scale: float
    skeleton: str
    error_mm: float
    joint_error_mm: dict[str, float]

    @property
    def limb_error_mm(self) -> float:
        limbs = [self.joint_error_mm[n] for n in LIMB_JOINTS if n in self.joint_error_mm]
        return float(np.mean(limbs)) if limbs else float("nan")

    def report(self) -> dict:
        """Plain numbers for a JSON line."""
        return {"skeleton": self.skeleton, "frames": len(self.frames), "fps": round(self.motion.framerate, 3),
                "scale_m_per_unit": round(self.scale, 6), "error_mm": round(self.error_mm, 1),
                "limb_error_mm": round(self.limb_error_mm, 1),
                "worst_joint": max(self.joint_error_mm, key=self.joint_error_mm.get),
                "worst_joint_error_mm": round(max(self.joint_error_mm.values()), 1)}


@dataclass
class RetargetSettings:
    """Weights and iteration counts of :func:`retarget` (module docstring)."""

    fps: float = 30.0
    chunk: int = 32
    shape_frames: int = 48
    shape_iterations: int = 400
    first_iterations: int = 300
    iterations: int = 120
    lr: float = 0.03
    bone_weight: float = 0.02
    limit_weight: float = 10.0
    rest_weight: float = 1e-5
    smooth_weight: float = 1e-3
    betas_weight: float = 1e-2
    #: metres per file unit (None: from the limbs, snapped to :data:`UNITS`)
    scale: float | None = None


def retarget(bvh, model, *, skeleton: str = "auto", settings: RetargetSettings | None = None,
             progress: bool = True) -> Retargeted:
    """Fit ``model`` (a :class:`~humanrecon.body.BodyModel` with body joints: SMPL,
    SMPL+H, SMPL-X, the open body) to the mocap clip ``bvh``
    (:func:`humanrecon.body.bvh.read_bvh`). Returns the :class:`Retargeted` clip."""
    from tqdm.auto import tqdm

    from humanrecon.body.keypoints import SMPL_JOINT_NAMES
    from humanrecon.body.motion import Motion
    from humanrecon.geometry.rotations import matrix_to_axis_angle

    settings = settings or RetargetSettings()
    if settings.fps <= 0 or settings.chunk < 1:
        raise InputError(f"fps must be > 0 and chunk >= 1, got {settings.fps} and {settings.chunk}")
    sizes = model.input_sizes()
    if "body_pose" not in sizes:
        raise InputError(f"retargeting needs a body model (SMPL, SMPL+H, SMPL-X), got a {model.model_type} model")
    rig = skeleton_for(bvh, skeleton)
    num_body = sizes["body_pose"] // 3
    names = [n for n in rig.joints if SMPL_JOINT_NAMES.index(n) <= num_body]
    body_index = torch.tensor([SMPL_JOINT_NAMES.index(n) for n in names])
    frames = _frames(bvh, rig, settings.fps)
    raw = bvh.joint_positions(frames)[:, [bvh.names.index(rig.joints[n]) for n in names]]  # (T, M, 3) file units
    up = _up_rotation(raw, names)
    with torch.no_grad():
        rest = model.joint_template.detach().cpu().double()
    scale = settings.scale or snap_unit(_unit_scale(raw, rest.numpy(), names))
    target = torch.as_tensor(scale * raw @ up.T, dtype=torch.float32)
    fit = _Fitter(model, names, body_index, rig, settings, num_body)
    betas = fit.fit_shape(target, progress)
    poses = []
    previous = None
    chunks = range(0, len(target), settings.chunk)
    for start in tqdm(chunks, desc="retarget", disable=not progress, leave=False):
        chunk = target[start:start + settings.chunk]
        solution = fit.fit_chunk(chunk, betas, previous,
                                 settings.first_iterations if previous is None else settings.iterations)
        previous = solution["body_pose"][-1].detach()
        poses.append(solution)
    cat = {k: torch.cat([p[k] for p in poses]).detach() for k in poses[0]}
    with torch.no_grad():
        fitted = fit.joints(cat["global_orient"], cat["body_pose"], cat["transl"], betas)
    distance = (fitted - target).norm(dim=-1)  # (T, M)
    motion = Motion(global_orient=matrix_to_axis_angle(cat["global_orient"]).numpy().astype(np.float32),
                    body_pose=cat["body_pose"].numpy().astype(np.float32),
                    transl=cat["transl"].numpy().astype(np.float32),
                    betas=betas.detach().numpy().astype(np.float32),
                    framerate=float(bvh.fps) / _step(bvh, settings.fps), source=str(bvh.path),
                    gender="neutral")
    return Retargeted(motion, frames, target.numpy(), fitted.numpy(), tuple(names), float(scale), rig.name,
                      1000 * float(distance.mean()),
                      {n: 1000 * float(d) for n, d in zip(names, distance.mean(0))})


def _step(bvh, fps: float) -> int:
    return max(1, int(round(bvh.fps / fps)))


def _frames(bvh, rig: Skeleton, fps: float) -> np.ndarray:
    first = 1 if rig.drop_first and bvh.num_frames > 1 else 0
    frames = np.arange(first, bvh.num_frames, _step(bvh, fps))
    if len(frames) == 0:
        raise PoseFileError(f"{bvh.path}: no motion frames (only the T-pose)")
    return frames


def _up_rotation(raw: np.ndarray, names: list[str]) -> np.ndarray:
    """``(3, 3)`` rotation taking the file's up axis (where the head is above the ankles
    in most frames) to +Y, and keeping a right-handed frame."""
    feet = raw[:, [names.index("left_ankle"), names.index("right_ankle")]].mean(1)
    rise = raw[:, names.index("head")] - feet  # (T, 3)
    axis = int(np.bincount(np.abs(rise).argmax(1), minlength=3).argmax())
    sign = float(np.sign(np.median(rise[:, axis])) or 1.0)
    if axis == 1:
        return np.diag([1.0, sign, sign])  # Y (or -Y: turn half a turn about X)
    if axis == 2:  # Z up: (x, y, z) -> (x, z, -y); -Z up: (x, -z, y)
        return np.array([[1.0, 0, 0], [0, 0, sign], [0, -sign, 0]])
    return np.array([[0, sign, 0], [-sign, 0, 0], [0, 0, 1.0]])  # X up: (x, y, z) -> (-y, x, z)


def snap_unit(estimate: float) -> float:
    """The unit of :data:`UNITS` nearest (in ratio) to ``estimate`` metres per unit, when
    within :data:`UNIT_TOLERANCE`; else the estimate itself."""
    name = min(UNITS, key=lambda u: abs(np.log(UNITS[u] / estimate)))
    return UNITS[name] if max(UNITS[name] / estimate, estimate / UNITS[name]) <= UNIT_TOLERANCE else estimate


def _unit_scale(raw: np.ndarray, rest: np.ndarray, names: list[str]) -> float:
    """Metres per file unit: the body's mean-shape limb lengths over the mocap's (median
    over frames, so a bad frame cannot set it)."""
    from humanrecon.body.keypoints import SMPL_JOINT_NAMES

    body, mocap = 0.0, 0.0
    for a, b in SCALE_BONES:
        if a in names and b in names:
            body += float(np.linalg.norm(rest[SMPL_JOINT_NAMES.index(a)] - rest[SMPL_JOINT_NAMES.index(b)]))
            mocap += float(np.median(np.linalg.norm(raw[:, names.index(a)] - raw[:, names.index(b)], axis=-1)))
    if not mocap > 0:
        raise PoseFileError("the mocap skeleton's limbs have zero length")
    return body / mocap


class _Fitter:
    """The energy of the module docstring and its two optimisations."""

    def __init__(self, model, names: list[str], body_index: torch.Tensor, rig: Skeleton,
                 settings: RetargetSettings, num_body: int) -> None:
        from humanrecon.fitting.priors import joint_limits

        self.model, self.settings, self.num_body = model, settings, num_body
        self.names, self.body_index = names, body_index
        self.weights = torch.tensor([rig.weights.get(n, 1.0) for n in names])
        self.parents = model.parents[: num_body + 1].tolist()
        limits = joint_limits()[:num_body]
        self.lower, self.upper = limits[..., 0].reshape(-1), limits[..., 1].reshape(-1)
        self.std = (self.upper - self.lower) / 4.0
        self.bones = self._bones(names)
        self.torso = [names.index(n) for n in TORSO if n in names]

    def _bones(self, names: list[str]) -> list[tuple[int, int]]:
        return self._bones_of(names, self.parents)

    @staticmethod
    def _bones_of(names, parents) -> list[tuple[int, int]]:
        """(parent, child) positions in ``names`` of every mapped joint and its nearest
        mapped ancestor in the body's tree (``parents``: the body's parent indices)."""
        from humanrecon.body.keypoints import SMPL_JOINT_NAMES

        names = list(names)
        bones = []
        for child in names:
            j = parents[SMPL_JOINT_NAMES.index(child)]
            while j >= 0 and SMPL_JOINT_NAMES[j] not in names:
                j = parents[j]
            if j >= 0:
                bones.append((names.index(SMPL_JOINT_NAMES[j]), names.index(child)))
        return bones

    def rest_joints(self, betas: torch.Tensor) -> torch.Tensor:
        """``(J, 3)`` rest joints of the first ``num_body + 1`` joints for ``betas (K,)``."""
        from humanrecon.body.lbs import rest_skeleton

        return rest_skeleton(self.model, betas, self.num_body + 1)

    def joints(self, root: torch.Tensor, body_pose: torch.Tensor, transl: torch.Tensor,
               betas: torch.Tensor) -> torch.Tensor:
        """Mapped joints ``(T, M, 3)`` for root rotation matrices ``(T, 3, 3)``,
        axis-angle ``body_pose (T, 3·num_body)``, ``transl (T, 3)``."""
        from humanrecon.body.lbs import skeleton_joints
        from humanrecon.geometry.rotations import axis_angle_to_matrix

        t = body_pose.shape[0]
        rot = torch.cat([root[:, None], axis_angle_to_matrix(body_pose.reshape(t, self.num_body, 3))], 1)
        return skeleton_joints(self.model, rot, betas)[:, self.body_index] + transl[:, None]

    def align_root(self, target: torch.Tensor, betas: torch.Tensor, body_pose: torch.Tensor):
        """Kabsch of the posed body's torso joints onto the target's: root rotation
        matrices ``(T, 3, 3)`` and translations ``(T, 3)``."""
        t = target.shape[0]
        eye = torch.eye(3).expand(t, 3, 3)
        with torch.no_grad():
            body = self.joints(eye, body_pose, torch.zeros(t, 3), betas)[:, self.torso]
        from humanrecon.geometry.rotations import best_rotation

        mocap = target[:, self.torso]
        bc, mc = body.mean(1, keepdim=True), mocap.mean(1, keepdim=True)
        rot, _ = best_rotation(body, mocap)
        # the root rotates the body about its pelvis: t = mc - R bc + (R - I) pelvis, pelvis = rest joint 0
        pelvis = self.rest_joints(betas)[0].detach()
        transl = mc[:, 0] - (rot @ bc[:, 0, :, None])[..., 0] + (rot @ pelvis[:, None])[..., 0] - pelvis
        return rot, transl

    def energy(self, target, root, body_pose, transl, betas, smooth: bool = True) -> torch.Tensor:
        s = self.settings
        joints = self.joints(root, body_pose, transl, betas)
        position = (self.weights * (joints - target).square().sum(-1)).sum(-1)
        parent, child = zip(*self.bones)

        def unit(x):
            bone = x[:, list(child)] - x[:, list(parent)]
            return bone / bone.norm(dim=-1, keepdim=True).clamp(min=1e-6)
        direction = (unit(joints) - unit(target)).square().sum((-2, -1))
        excess = torch.relu(self.lower - body_pose) + torch.relu(body_pose - self.upper)
        rest = (body_pose / self.std).square().sum(-1)
        total = (position + s.bone_weight * direction + s.limit_weight * excess.square().sum(-1)
                 + s.rest_weight * rest).sum()
        if smooth and body_pose.shape[0] > 1:
            total = total + s.smooth_weight * (body_pose[1:] - body_pose[:-1]).square().sum()
        return total

    def _optimise(self, target, body_pose, betas, iterations: int, fit_betas: bool, smooth: bool):
        from humanrecon.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

        root, transl = self.align_root(target, betas, body_pose)
        root_aa = matrix_to_axis_angle(root).clone().requires_grad_(True)
        transl = transl.clone().requires_grad_(True)
        body_pose = body_pose.clone().requires_grad_(True)
        betas = betas.clone().requires_grad_(fit_betas)
        params = [root_aa, transl, body_pose] + ([betas] if fit_betas else [])
        optimizer = torch.optim.Adam(params, lr=self.settings.lr)
        for _ in range(iterations):
            optimizer.zero_grad(set_to_none=True)
            loss = self.energy(target, axis_angle_to_matrix(root_aa), body_pose, transl, betas, smooth)
            if fit_betas:
                loss = loss + self.settings.betas_weight * betas.square().sum()
            loss.backward()
            optimizer.step()
        return {"global_orient": axis_angle_to_matrix(root_aa).detach(), "body_pose": body_pose.detach(),
                "transl": transl.detach(), "betas": betas.detach()}

    def fit_shape(self, target: torch.Tensor, progress: bool) -> torch.Tensor:
        """Shared ``betas (K,)`` from frames spread over the clip (poses free)."""
        count = min(self.settings.shape_frames, len(target))
        picks = torch.as_tensor(np.unique(np.linspace(0, len(target) - 1, count).round().astype(int)))
        betas = torch.zeros(self.model.num_betas)
        pose = torch.zeros(len(picks), 3 * self.num_body)
        return self._optimise(target[picks], pose, betas, self.settings.shape_iterations, True, False)["betas"]

    def fit_chunk(self, target: torch.Tensor, betas: torch.Tensor, previous: torch.Tensor | None,
                  iterations: int) -> dict:
        """One chunk of consecutive frames, every frame starting from ``previous`` (the
        last body pose of the chunk before; rest for the first)."""
        start = torch.zeros(3 * self.num_body) if previous is None else previous
        pose = start.expand(len(target), -1).clone()
        solution = self._optimise(target, pose, betas, iterations, False, True)
        solution.pop("betas")
        return solution


def write_retargeted(path: str | Path, result: Retargeted, model_type: str = "smpl", *,
                     overwrite: bool = False) -> Path:
    """The clip as an AMASS-like ``.npz`` (:func:`humanrecon.body.motion.read_motion`
    reads it back): ``poses (T, 72 | 156 | 165)`` (root, body joints, zero jaw/eyes and
    hands where the layout has them), ``trans (T, 3)`` metres, ``betas (K,)``,
    ``mocap_framerate``, ``gender``, and the fit's ``retarget_error_mm`` and
    ``source_frames``. Written atomically; an existing file is kept unless ``overwrite``."""
    from humanrecon.body.motion import write_motion

    extra = {"retarget_error_mm": np.float32(result.error_mm), "source_frames": result.frames.astype(np.int64)}
    return write_motion(path, result.motion, model_type, overwrite=overwrite, extra=extra)


def retarget_picture(result: Retargeted, model, count: int = 4, size: int = 320) -> np.ndarray:
    """``count`` frames spread over the clip, each from the front and the side: the fitted
    body (grey) with the mocap skeleton (green bones, red joints) and the body's mapped
    joints (blue) drawn over it. ``(2 size, count size, 3)`` float32 RGB."""
    from humanrecon.geometry.camera import Camera
    from humanrecon.render.draw import draw_points, draw_skeleton
    from humanrecon.render.grid import image_grid
    from humanrecon.render.raycast import render_mesh

    motion = result.motion
    picks = np.unique(np.linspace(0, len(motion) - 1, count).round().astype(int))
    bones = np.array(_Fitter._bones_of(result.joint_names, model.parents.tolist()), dtype=np.int64).reshape(-1, 2)
    columns = []
    for t in picks:
        with torch.no_grad():
            vertices = model(**{k: torch.as_tensor(v)[None] for k, v in motion.frame(int(t)).items()
                                if k in model.input_sizes()}).vertices[0].numpy()
        centre = 0.5 * (vertices.min(0) + vertices.max(0))
        extent = float((vertices.max(0) - vertices.min(0)).max())
        views = []
        for side in (np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])):
            camera = Camera.look_at((centre + 2.2 * extent * side)[None].astype(np.float32),
                                    centre[None].astype(np.float32), width=size, height=size, fov_x_rad=0.6)
            image = render_mesh(vertices, model.faces, camera, background=(1.0, 1.0, 1.0)).image
            target = camera.project(torch.as_tensor(result.target[t]))[0].numpy()
            fitted = camera.project(torch.as_tensor(result.fitted[t]))[0].numpy()
            image = draw_skeleton(image, target, bones, (0.1, 0.7, 0.1), point_color=(0.9, 0.1, 0.1))
            views.append(draw_points(image, fitted, (0.1, 0.2, 0.9), radius=2.5))
        columns.append(image_grid(views, cols=1))
    return image_grid(columns, cols=len(columns), pad=4)


def body_to_bvh(model, motion, *, units_per_metre: float = 100.0):
    """A BVH clip (:class:`humanrecon.body.bvh.BVH`, in memory) of ``motion`` (a
    :class:`~humanrecon.body.motion.Motion`) on ``model``'s skeleton: SMPL's joint names
    (the ``smpl`` skeleton table), rest offsets of the motion's ``betas`` in
    ``units_per_metre`` (centimetres by default), the root with position channels,
    rotations as ``Zrotation Xrotation Yrotation`` Euler angles in degrees. Its joint
    positions are the body's posed joints (scaled), so it is an exact oracle for
    :func:`retarget`; write it with :func:`humanrecon.body.bvh.write_bvh`."""
    from scipy.spatial.transform import Rotation

    from humanrecon.body.bvh import BVH
    from humanrecon.body.keypoints import SMPL_JOINT_NAMES

    num_body = motion.body_pose.shape[1] // 3
    count = num_body + 1
    betas = np.zeros(model.num_betas) if motion.betas is None else np.asarray(motion.betas, np.float64)
    with torch.no_grad():
        rest = (model.joint_template[:count].double()
                + model.joint_shapedirs[:count, :, : betas.size].double() @ torch.as_tensor(betas)).numpy()
    parents = np.asarray(model.parents[:count].tolist(), np.int64)
    offsets = rest.copy()
    offsets[1:] = rest[1:] - rest[parents[1:]]
    frames = len(motion)
    rotations = np.concatenate([motion.global_orient.reshape(frames, 1, 3),
                                motion.body_pose.reshape(frames, num_body, 3)], 1).astype(np.float64)
    euler = Rotation.from_rotvec(rotations.reshape(-1, 3)).as_euler("ZXY", degrees=True).reshape(frames, count, 3)
    values = np.concatenate([units_per_metre * np.asarray(motion.transl, np.float64), euler.reshape(frames, -1)], 1)
    channels = (("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"),) + \
        (("Zrotation", "Xrotation", "Yrotation"),) * num_body
    return BVH(path=Path(), names=tuple(SMPL_JOINT_NAMES[:count]), parents=parents,
               offsets=units_per_metre * offsets, end_sites={}, channels=channels,
               frame_time=1.0 / (motion.framerate or 30.0), motion=values)
