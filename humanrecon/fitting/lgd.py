"""Learned gradient descent (Song, Chen, Hilliges, ECCV 2020): a network turns the gradient
of the 2D reprojection loss into parameter updates, a few shared-weight iterations from a
start that a small regressor predicts from the keypoints.

Frames and the fitted camera are SMPLify's (:mod:`humanrecon.fitting.smplify`): the body in
its model frame (metres, Y up, facing +Z), an OpenCV camera with the given intrinsics,
rotation :data:`~humanrecon.fitting.smplify.FRONT_VIEW_R` and a fitted translation ``t``.

State of one person (``D = 6 + 6 J + S + 3`` numbers, ``J`` body joints, ``S`` shape
components): the root rotation and each body joint's rotation in the continuous 6D
representation (:func:`~humanrecon.geometry.rotations.rotation_6d_to_matrix`), the betas,
and the camera translation as ``(t_x / t_z, t_y / t_z, log t_z)``.

Observation: the BODY_25 keypoints normalised to the person's box (centre at 0, the box's
longer side 1; 0 where unseen) and their confidences. One iteration::

    g = d E(state) / d state       E = Σ_k c_k ρ(|π(X_k(state)) − x_k|² / s²)  (Geman-McClure ρ)
    state += F([observation, state, asinh(g / g_scale), one-hot(iteration)])

``F`` is one MLP shared by all iterations; the start is ``mean + R(observation)`` (``mean``: the
tuning half of the everyday pose library's mean pose, the mean shape, SMPLify's camera
translation for the rest pose). The gradient enters as an input (it is not differentiated
again in training). Shipped weights: ``assets/models/lgd_open.pt``, trained by
``tools/train_lgd.py`` (:mod:`humanrecon.fitting.lgd_training`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from humanrecon.body import BodyModel, keypoint_map
from humanrecon.errors import CheckpointError, InputError
from humanrecon.fitting.priors import geman_mcclure
from humanrecon.fitting.smplify import FRONT_VIEW_R, FitResult, SMPLify, Stage, prune_regressor
from humanrecon.geometry import Camera
from humanrecon.io.checkpoints import Checkpointed
from humanrecon.geometry.rotations import matrix_to_axis_angle, matrix_to_rotation_6d, rotation_6d_to_matrix

#: checkpoint kind of LGD weights (:mod:`humanrecon.io.checkpoints`)
LGD_KIND = "lgd"
#: the shipped weights for the open body (``tools/train_lgd.py``, seed 0)
LGD_ASSET = "models/lgd_open.pt"
#: Geman-McClure scale of the reprojection energy, in units of the person's box size
ENERGY_RHO = 0.1
#: vertices (beside those the keypoints need) on which the training loss is measured
LOSS_VERTICES = 256
#: the SMPLify schedule that refines an LGD result in ``method="lgd+smplify"``: the last
#: two stages of the default schedule from the one LGD start (no multi-start search)
REFINE_STAGES = (Stage(30, 0.2, 0.5, 0.1, rho=10.0), Stage(40, 0.1, 0.5, 0.05, rho=5.0))
METHODS = ("smplify", "lgd", "lgd+smplify")
#: the method ``auto`` picks where LGD weights exist for the model (the most accurate one
#: that fits a photo in under 1.5 s on 2 cores: docs/benchmarks.md, fitting)
DEFAULT_METHOD = "lgd+smplify"


def _mlp(inputs: int, hidden: int, outputs: int, layers: int) -> nn.Sequential:
    blocks: list[nn.Module] = []
    width = inputs
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), nn.GELU()]
        width = hidden
    last = nn.Linear(width, outputs)
    nn.init.zeros_(last.weight)  # a fresh network predicts no change: the start is the mean
    nn.init.zeros_(last.bias)
    return nn.Sequential(*blocks, last)


class LGDNetwork(Checkpointed, nn.Module):
    """The start regressor and the update network.

    Args:
        num_keypoints: keypoints observed (25, BODY_25).
        body_joints: body joints posed (23 SMPL, 21 SMPL+H/SMPL-X).
        num_betas: shape components fitted.
        iterations: update steps (shared weights).
        hidden, layers: MLP width and depth.
    Buffers: ``mean_state (D,)`` the start before the regressor, ``grad_scale (D,)`` the
    typical gradient size per state entry (set from training data).

    Checkpoints: ``save(path)``, ``LGDNetwork.load(path)`` (:class:`~humanrecon.io.checkpoints.Checkpointed`;
    :func:`load_network` also finds the shipped weights).
    """

    checkpoint_kind = LGD_KIND

    def __init__(self, num_keypoints: int = 25, body_joints: int = 23, num_betas: int = 10, iterations: int = 6,
                 hidden: int = 512, layers: int = 2) -> None:
        super().__init__()
        self.settings = {"num_keypoints": num_keypoints, "body_joints": body_joints, "num_betas": num_betas,
                         "iterations": iterations, "hidden": hidden, "layers": layers}
        self.num_keypoints, self.body_joints, self.num_betas = num_keypoints, body_joints, num_betas
        self.iterations = iterations
        self.state_dim = 6 + 6 * body_joints + num_betas + 3
        obs = 3 * num_keypoints
        self.start = _mlp(obs, hidden, self.state_dim, layers)
        self.update = _mlp(obs + 2 * self.state_dim + iterations, hidden, self.state_dim, layers)
        self.register_buffer("mean_state", torch.zeros(self.state_dim))
        self.register_buffer("grad_scale", torch.ones(self.state_dim))

    def initial(self, observation: torch.Tensor, camera0: torch.Tensor) -> torch.Tensor:
        """Start ``(B, D)`` from the observation ``(B, 3K)`` and SMPLify's camera ``(B, 3)``."""
        mean = self.mean_state.expand(observation.shape[0], -1)
        mean = torch.cat([mean[:, :-3], camera0], dim=1)
        return mean + self.start(observation)

    def step(self, observation: torch.Tensor, state: torch.Tensor, grad: torch.Tensor, index: int) -> torch.Tensor:
        """The update ``(B, D)`` of iteration ``index``."""
        onehot = torch.zeros(state.shape[0], self.iterations, dtype=state.dtype, device=state.device)
        onehot[:, min(index, self.iterations - 1)] = 1.0
        features = torch.cat([observation, state, torch.asinh(grad / self.grad_scale), onehot], dim=1)
        return self.update(features)


def load_network(path: str | os.PathLike | None = None, map_location="cpu") -> LGDNetwork:
    """LGD weights from a checkpoint (default: the shipped ones for the open body).
    Raises :class:`~humanrecon.errors.CheckpointError` naming the file when it is not LGD
    weights or does not fit."""
    from humanrecon._assets import asset_path

    return LGDNetwork.load(Path(path) if path is not None else asset_path(LGD_ASSET), map_location)


def save_network(path: str | os.PathLike, network: LGDNetwork, **extra) -> Path:
    """Write LGD weights (atomically, the shared checkpoint format)."""
    return network.save(path, **extra)


@dataclass
class Observation:
    """Keypoints of ``B`` people prepared for LGD: ``features (B, 3K)`` (normalised
    positions and confidences), ``centre (B, 2)`` and ``size (B,)`` of each person's box
    (pixels), and the inputs as given."""

    features: torch.Tensor
    centre: torch.Tensor
    size: torch.Tensor
    keypoints: torch.Tensor
    confidence: torch.Tensor
    intrinsics: torch.Tensor


class LGDFitter:
    """Fit bodies to 2D keypoints with learned gradient descent (same inputs and
    :class:`~humanrecon.fitting.smplify.FitResult` as :class:`SMPLify`).

    Args:
        model: the body model the network was trained for.
        network: an :class:`LGDNetwork` or a checkpoint path (default: the shipped weights
            for the open body; other models need their own, ``tools/train_lgd.py --model``).
        smplify: the SMPLify fitter used for the camera start, the keypoint map and the
            ``lgd+smplify`` refinement (default: ``SMPLify(model)``).
        lifter: a :class:`~humanrecon.fitting.lifting.PoseLifter` or its checkpoint path
            whose pose hypotheses ``lgd+smplify`` refines beside LGD's result, keeping the
            lowest loss (None: none; :func:`make_fitter` adds the shipped one for the open
            body).
    """

    def __init__(self, model: BodyModel, network: LGDNetwork | str | os.PathLike | None = None,
                 smplify: SMPLify | None = None, lifter=None) -> None:
        from humanrecon.fitting.lifting import PoseLifter, load_lifter

        self.model = model
        self.smplify = smplify if smplify is not None else SMPLify(model)
        self.network = network if isinstance(network, LGDNetwork) else load_network(network)
        self.lifter = lifter if lifter is None or isinstance(lifter, PoseLifter) else load_lifter(lifter)
        self.body_dim = model.input_sizes()["body_pose"]
        self.num_betas = self.network.num_betas
        expected = {"body_joints": self.body_dim // 3, "num_keypoints": len(self.smplify.kmap.names)}
        found = {k: self.network.settings[k] for k in expected}
        if found != expected or self.num_betas > model.num_betas:
            source = network if not isinstance(network, LGDNetwork) else "the network"
            raise CheckpointError(f"{source}: LGD weights for {found['body_joints']} body joints, "
                                  f"{found['num_keypoints']} keypoints and {self.num_betas} betas do not fit the "
                                  f"{model.name} model ({expected['body_joints']} joints, {model.num_betas} betas): "
                                  "train weights for it with tools/train_lgd.py --model")
        kmap = keypoint_map(model, "body25")
        folded = kmap.fold_extras(model)  # the same pruned map as SMPLify's, on more vertices
        folded = replace(folded, vertex_weights=prune_regressor(folded.vertex_weights))
        needed = self.smplify.vertex_ids
        extra = torch.randperm(model.v_template.shape[0], generator=torch.Generator().manual_seed(0))[:LOSS_VERTICES]
        self.vertex_ids = torch.unique(torch.cat([needed, extra]))
        self.loss_vertex_rows = torch.searchsorted(self.vertex_ids, torch.sort(extra).values)
        self.keypoint_map = folded.restrict(self.vertex_ids)
        if self.lifter is not None and self.lifter.joints != self.body_dim // 3 + 1:
            source = lifter if not isinstance(lifter, PoseLifter) else "the lifter"
            raise CheckpointError(f"{source}: lifter weights for {self.lifter.joints} joints do not fit the "
                                  f"{model.name} model ({self.body_dim // 3 + 1} with the root): train weights for it "
                                  "with tools/train_lifter.py --model")

    # ------------------------------------------------------------------ state
    @property
    def iterations(self) -> int:
        return self.network.iterations

    def decode(self, state: torch.Tensor) -> dict[str, torch.Tensor]:
        """Body parameters of a state ``(B, D)``: ``global_orient (B, 1, 3, 3)``,
        ``body_pose (B, J, 3, 3)`` rotation matrices, ``betas (B, S)``, ``transl (B, 3)``."""
        j = self.body_dim // 3
        rot = rotation_6d_to_matrix(state[:, : 6 + 6 * j].reshape(-1, j + 1, 6))
        betas = state[:, 6 + 6 * j: 6 + 6 * j + self.num_betas]
        cam = state[:, -3:]
        depth = torch.exp(cam[:, 2:3])
        transl = torch.cat([cam[:, :2] * depth, depth], dim=1)
        return {"global_orient": rot[:, :1], "body_pose": rot[:, 1:], "betas": betas, "transl": transl}

    def encode(self, global_orient: torch.Tensor, body_pose: torch.Tensor, betas: torch.Tensor,
               transl: torch.Tensor) -> torch.Tensor:
        """State ``(B, D)`` of axis-angle ``global_orient (B, 3)``, ``body_pose (B, 3J)``,
        ``betas (B, S)`` and camera translation ``transl (B, 3)`` (``t_z > 0``)."""
        from humanrecon.geometry.rotations import axis_angle_to_matrix

        rot = axis_angle_to_matrix(torch.cat([global_orient, body_pose], 1).reshape(len(betas), -1, 3))
        cam = torch.cat([transl[:, :2] / transl[:, 2:3], transl[:, 2:3].log()], dim=1)
        return torch.cat([matrix_to_rotation_6d(rot).flatten(1), betas[:, : self.num_betas], cam], dim=1)

    def body(self, state: torch.Tensor):
        """Pose the partial body (the vertices the keypoints and the training loss need):
        ``(params, output, keypoints_3d (B, 25, 3))``."""
        params = self.decode(state)
        betas = torch.nn.functional.pad(params["betas"], (0, self.model.num_betas - self.num_betas))
        out = self.model(betas=betas, global_orient=params["global_orient"], body_pose=params["body_pose"],
                         pose2rot=False, vertex_ids=self.vertex_ids)
        return params, out, self.keypoint_map(out)

    def observe(self, keypoints: torch.Tensor, confidence: torch.Tensor, intrinsics: torch.Tensor) -> Observation:
        """Validate and normalise the inputs (see :meth:`fit`)."""
        dtype = self.model.v_template.dtype
        points = torch.as_tensor(keypoints, dtype=dtype)
        conf = torch.as_tensor(confidence, dtype=dtype)
        count = len(self.smplify.kmap.names)
        batch = points.shape[0] if points.ndim == 3 else -1
        if points.shape != (batch, count, 2) or conf.shape != (batch, count):
            raise InputError(f"keypoints must be (B, {count}, 2) and confidence (B, {count}), got "
                             f"{tuple(points.shape)} and {tuple(conf.shape)}")
        if not torch.isfinite(points).all() or not torch.isfinite(conf).all():
            raise InputError("keypoints or confidence contain NaN or infinite values")
        conf = conf.clamp(0, 1) * self.smplify.kmap.available.to(conf)
        seen = conf > 0
        if not seen.any(1).all():
            raise InputError("a person has no keypoint with confidence > 0")
        intr = torch.as_tensor(intrinsics, dtype=dtype)
        intr = intr.expand(batch, 3, 3) if intr.ndim == 2 else intr
        big = torch.finfo(dtype).max
        lo = torch.where(seen[..., None], points, torch.full_like(points, big)).amin(1)
        hi = torch.where(seen[..., None], points, torch.full_like(points, -big)).amax(1)
        centre, size = (lo + hi) / 2, (hi - lo).amax(1).clamp(min=1.0)
        normalised = torch.where(seen[..., None], (points - centre[:, None]) / size[:, None, None], 0.0)
        features = torch.cat([normalised.flatten(1), conf], dim=1)
        return Observation(features, centre, size, points, conf, intr)

    def energy(self, state: torch.Tensor, obs: Observation) -> torch.Tensor:
        """Reprojection energy ``(B,)`` in box units (see the module docstring)."""
        params, _, kp3d = self.body(state)
        R = FRONT_VIEW_R.to(state).expand(len(state), 3, 3)
        proj = Camera(obs.intrinsics, R, params["transl"], 1, 1).project(kp3d)
        residual = ((proj - obs.keypoints) / obs.size[:, None, None]).square().sum(-1)
        return (obs.confidence * geman_mcclure(residual, ENERGY_RHO)).sum(-1)

    def unroll(self, obs: Observation, *, train: bool = False) -> list[torch.Tensor]:
        """States ``[start, after step 1, ..., after step T]``, each ``(B, D)``; with
        ``train`` they stay differentiable with respect to the network's weights."""
        camera0 = self.smplify.initial_translation(obs.keypoints, obs.confidence, obs.intrinsics)
        camera0 = torch.cat([camera0[:, :2] / camera0[:, 2:3], camera0[:, 2:3].clamp(min=1e-3).log()], dim=1)
        state = self.network.initial(obs.features, camera0)
        states = [state]
        for index in range(self.iterations):
            probe = state.detach().requires_grad_(True)
            with torch.enable_grad():
                grad, = torch.autograd.grad(self.energy(probe, obs).sum(), probe)
            state = state + self.network.step(obs.features, state if train else state.detach(), grad, index)
            states.append(state)
        return states

    # ------------------------------------------------------------------ public API
    def fit(self, keypoints: torch.Tensor, confidence: torch.Tensor, intrinsics: torch.Tensor,
            image_size: tuple[int, int] | Sequence[tuple[int, int]], *, method: str = "lgd",
            progress: bool = False, seed: int = 0) -> FitResult:
        """Fit one body per row (arguments as :meth:`SMPLify.fit`).

        Args:
            keypoints: ``(B, 25, 2)`` pixels, BODY_25 order; confidence ``(B, 25)`` in [0, 1].
            intrinsics: ``(B, 3, 3)`` or ``(3, 3)`` pixels.
            image_size: ``(width, height)``.
            method: ``"lgd"`` (the network alone) or ``"lgd+smplify"`` (then SMPLify's last
                stages, :data:`REFINE_STAGES`, from the LGD result, without its start search).
        Returns:
            :class:`FitResult` (``iterations``: LGD steps, plus SMPLify's for ``lgd+smplify``).
        """
        if method not in ("lgd", "lgd+smplify"):
            raise InputError(f"method must be 'lgd' or 'lgd+smplify', got {method!r}")
        torch.manual_seed(seed)
        obs = self.observe(keypoints, confidence, intrinsics)
        size = tuple(image_size) if not isinstance(image_size[0], (tuple, list)) else tuple(image_size[0])
        self.network.eval()
        with torch.no_grad():
            state = self.unroll(obs)[-1]
            params = self.decode(state)
        rot = matrix_to_axis_angle(torch.cat([params["global_orient"], params["body_pose"]], 1))
        start = {"transl": params["transl"], "global_orient": rot[:, 0], "body_pose": rot[:, 1:].flatten(1),
                 "betas": torch.nn.functional.pad(params["betas"], (0, self.smplify.num_betas - self.num_betas))}
        if method == "lgd":
            return self.smplify.result_from(start, obs.keypoints, confidence, obs.intrinsics, size,
                                            iterations=self.iterations)
        if self.lifter is not None:
            start = self._with_hypotheses(start, obs)
        start = rest_unseen_limbs(start, confidence.to(start["body_pose"].device))
        return self.smplify.refine(start, obs.keypoints, confidence, obs.intrinsics, size, REFINE_STAGES,
                                   progress=progress, extra_iterations=self.iterations)

    def _with_hypotheses(self, start: dict[str, torch.Tensor], obs: Observation) -> dict[str, torch.Tensor]:
        """LGD's start followed by the lifter's ``K`` pose hypotheses (each with LGD's
        shape and camera translation): ``(K + 1)·B`` rows, candidate-major."""
        from humanrecon.fitting.lifting import lifter_features

        with torch.no_grad():
            rot, _ = self.lifter(lifter_features(obs.features, obs.centre, obs.size, obs.intrinsics))
        batch, count = rot.shape[:2]
        axis = matrix_to_axis_angle(rot.transpose(0, 1)).reshape(count * batch, -1, 3)  # (K·B, J+1, 3)
        return {"global_orient": torch.cat([start["global_orient"], axis[:, 0]]),
                "body_pose": torch.cat([start["body_pose"], axis[:, 1:].flatten(1)]),
                **{k: torch.cat([start[k]] * (count + 1)) for k in ("transl", "betas")}}


#: per leg: the BODY_25 keypoints that its joints move, and those joints (SMPL skeleton
#: names; the first 22 joints are the same in SMPL, SMPL+H and SMPL-X). Only legs: their
#: rest pose (straight, standing) is a natural guess, an arm's (held out sideways) is not
LIMBS = {
    "left_leg": (("left_knee", "left_ankle", "left_big_toe", "left_small_toe", "left_heel"),
                 ("left_hip", "left_knee", "left_ankle", "left_foot")),
    "right_leg": (("right_knee", "right_ankle", "right_big_toe", "right_small_toe", "right_heel"),
                  ("right_hip", "right_knee", "right_ankle", "right_foot")),
}


def rest_unseen_limbs(start: dict[str, torch.Tensor], confidence: torch.Tensor) -> dict[str, torch.Tensor]:
    """Starts with every leg that no keypoint sees put in the rest pose.

    A leg of a person seen from the waist up, or cut by the frame, has no keypoint (all its
    knee, ankle and foot points have confidence 0), so nothing but the prior decides its
    rotations, and a start (a lifter hypothesis) that swings it keeps it swung: the
    reprojection loss is the same either way. Those joints' rotations are set to zero
    (the rest pose: a straight leg) in every start, so the fit stands.

    Args:
        start: ``body_pose (N, 3·J)`` axis-angle (SMPL joint order after the pelvis) and the
            rest, ``N = C·B`` rows, candidate-major (``C`` starts of ``B`` people).
        confidence: ``(B, 25)`` BODY_25 keypoint confidences.

    Returns:
        ``start`` with ``body_pose`` replaced (a new tensor); other entries unchanged.
    """
    from humanrecon.body.keypoints import BODY25_NAMES, SMPL_JOINT_NAMES

    pose = start["body_pose"]
    batch = confidence.shape[0]
    if pose.shape[0] % batch:
        raise InputError(f"{pose.shape[0]} starts are not a whole number of candidates for {batch} people")
    unseen = torch.zeros(batch, pose.shape[1] // 3, dtype=torch.bool, device=pose.device)
    for points, joints in LIMBS.values():
        blind = (confidence[:, [BODY25_NAMES.index(p) for p in points]] <= 0).all(dim=1)  # (B,)
        for joint in joints:
            unseen[:, SMPL_JOINT_NAMES.index(joint) - 1] |= blind
    if not unseen.any():
        return start
    keep = (~unseen).repeat(pose.shape[0] // batch, 1).repeat_interleave(3, dim=1).to(pose.dtype)
    return {**start, "body_pose": pose * keep}


def resolve_method(method: str, model: BodyModel, lgd_weights=None) -> str:
    """``method`` itself, or for ``"auto"``: :data:`DEFAULT_METHOD` when LGD weights exist
    for ``model`` (the open body's shipped weights, or ``lgd_weights``), else
    ``"smplify"`` (official SMPL-family files need their own LGD weights:
    ``tools/train_lgd.py --model``)."""
    if method == "auto":
        return DEFAULT_METHOD if (lgd_weights is not None or model.name == "open") else "smplify"
    if method not in METHODS:
        raise InputError(f"method must be auto or one of {METHODS}, got {method!r}")
    return method


def make_fitter(model: BodyModel, method: str = "auto", *, smplify: SMPLify | None = None,
                lgd_weights: str | os.PathLike | None = None, lifter="auto"):
    """A fitter for ``method`` (``"auto"``: :func:`resolve_method`, or one of
    :data:`METHODS`) with ``.fit(keypoints, confidence, intrinsics, image_size,
    progress=...)``: the SMPLify fitter itself, or an LGD fitter bound to ``"lgd"`` /
    ``"lgd+smplify"``. ``lifter``: the pose lifter whose hypotheses ``lgd+smplify`` also
    refines (:mod:`humanrecon.fitting.lifting`): ``"auto"`` (the shipped one with the
    shipped LGD weights of the open body, else none), ``"none"``, a checkpoint path or a
    :class:`~humanrecon.fitting.lifting.PoseLifter`."""
    method = resolve_method(method, model, lgd_weights)
    smplify = smplify if smplify is not None else SMPLify(model)
    if method == "smplify":
        return smplify
    if isinstance(lifter, str) and lifter in ("auto", "none"):
        from humanrecon._assets import asset_path
        from humanrecon.fitting.lifting import LIFTER_ASSET

        shipped = lifter == "auto" and lgd_weights is None and model.name == "open" and method == "lgd+smplify"
        lifter = asset_path(LIFTER_ASSET) if shipped else None
    return _BoundLGD(LGDFitter(model, lgd_weights, smplify, lifter), method)


class _BoundLGD:
    """An :class:`LGDFitter` with its method fixed (the pipeline calls ``fit`` as on SMPLify)."""

    def __init__(self, fitter: LGDFitter, method: str) -> None:
        self.fitter, self.method = fitter, method
        self.model = fitter.model

    def fit(self, *args, **kwargs) -> FitResult:
        return self.fitter.fit(*args, method=self.method, **kwargs)
