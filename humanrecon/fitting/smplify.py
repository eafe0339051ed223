"""SMPLify (Bogo et al. 2016): fit a body model to 2D keypoints in a photo.

Frames: the body lives in its model frame (metres, Y up, facing +Z) with
``global_orient``/``body_pose``/``betas``; the camera is an OpenCV pinhole with fixed
intrinsics ``K`` (focal length known), fixed rotation :data:`FRONT_VIEW_R` (looking at the
body's front, image up = world +Y) and an optimised translation ``t`` (``x_cam = R x + t``),
the "camera translation" of SMPLify. A person seen from the back simply gets
``global_orient`` ≈ 180° about Y.

Objective per person (SMPLify's, with an everyday-pose mixture prior by default):
Geman-McClure robust reprojection error of the model keypoints (confidence-weighted,
measured in percent of the person's height in the image, so weights depend neither on the
image resolution nor on the person's distance) + pose prior + shape prior + elbow/knee
bending prior + upright prior (+ a depth term in the first stage).

Search: (0) candidate starts = start poses (the rest pose and the tuning half of the
everyday pose library) x 8 yaws, ranked per person by how well their weak-perspective
projection matches the keypoints; (1) camera translation and global orientation on the
torso from the best ``starts``; (2..) everything, with the prior weights decreasing, for
the ``keep`` best; the lowest loss wins; (3) each arm and leg is tried swung to its depth
mirror (the same image) and kept where the loss prefers it, then re-fitted briefly. All
people/images are one batched optimisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from humanrecon.errors import InputError
from humanrecon.body import BodyModel, keypoint_map
from humanrecon.body.keypoints import BODY25_LIMB_PAIRS
from humanrecon.fitting.mirrors import limb_alternatives, limb_indices
from humanrecon.fitting.priors import EverydayPosePrior, bending_prior, geman_mcclure, shape_prior, upright_prior
from humanrecon.fitting.starts import StartCandidates, make_candidates, rank_starts
from humanrecon.geometry import Camera

#: world-to-camera rotation of a camera in front of a Y-up body facing +Z (OpenCV axes)
FRONT_VIEW_R = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
#: keypoints used to place the camera in the first stage
TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "neck", "mid_hip")
#: yaws (radians about the vertical) at which every start pose is tried: every 45°
DEFAULT_START_YAWS = tuple(np.radians(np.arange(-135.0, 181.0, 45.0)))
#: largest 3D extent (metres) of a standing adult's keypoints in any pose (arms raised)
MAX_EXTENT_M = 2.3


@dataclass
class Stage:
    """One optimisation stage: which parameters move, for how many iterations, and the
    weights of the priors (relative to the data term)."""

    iterations: int
    pose_weight: float
    shape_weight: float
    bend_weight: float
    optimize: tuple[str, ...] = ("transl", "global_orient", "body_pose", "betas")
    torso_only: bool = False
    depth_weight: float = 0.0
    rho: float | None = None  # Geman-McClure scale of this stage (None: the fitter's)


#: the Geman-McClure scale (percent of the person's height): narrow for placing the torso
#: (a gross outlier among six torso keypoints must not move the camera), wide while the
#: limbs travel to their keypoints, then narrowing (graduated non-convexity), so at the end
#: a gross detector outlier costs a bounded amount instead of pulling the limb. The pose
#: prior's weight falls to 0.1 of the data term: chosen by cross-validation inside the
#: tuning half of the pose library (prior and starts from one half of it, fits scored on
#: the other: 111.5 -> 107.0 mm against the earlier 2.5 -> 1.0 schedule)
DEFAULT_STAGES = (
    Stage(30, 0.0, 0.0, 0.0, ("transl", "global_orient"), torso_only=True, depth_weight=100.0, rho=10.0),
    Stage(30, 1.0, 1.0, 0.5, rho=20.0),
    Stage(30, 0.5, 0.5, 0.3, rho=10.0),
    Stage(30, 0.2, 0.5, 0.1, rho=10.0),
    Stage(40, 0.1, 0.5, 0.05, rho=5.0),
)
#: the short stage that re-fits a body after its limbs were mirrored
MIRROR_REFINE = Stage(15, 1.0, 1.0, 0.05)


@dataclass
class FitResult:
    """Fitted bodies and cameras, one row per person (all tensors detached, CPU).

    Attributes:
        betas ``(B, K)``, global_orient ``(B, 3)``, body_pose ``(B, 69)``: body parameters
            (model frame, axis-angle radians).
        camera: :class:`Camera` batch ``B`` (K, R = :data:`FRONT_VIEW_R`, optimised t).
        vertices ``(B, V, 3)`` metres, model/world frame; keypoints_3d ``(B, K, 3)``;
        keypoints_2d ``(B, K, 2)`` reprojected pixels; names: the K keypoint names.
        reprojection_error_px ``(B,)``: mean pixel error over keypoints with confidence > 0.
        losses: final per-person loss terms (data, pose, shape, bend), each ``(B,)``.
        iterations: optimiser iterations run, summed over stages (each iteration updates
            the whole batch of people and candidate starts).
    """

    betas: torch.Tensor
    global_orient: torch.Tensor
    body_pose: torch.Tensor
    camera: Camera
    vertices: torch.Tensor
    keypoints_3d: torch.Tensor
    keypoints_2d: torch.Tensor
    names: tuple[str, ...]
    reprojection_error_px: torch.Tensor
    losses: dict[str, torch.Tensor] = field(default_factory=dict)
    iterations: int = 0

    def person(self, i: int) -> dict:
        """JSON-ready parameters of person ``i`` (lists of floats)."""
        cam = self.camera[i]
        return {
            "betas": self.betas[i].tolist(),
            "global_orient": self.global_orient[i].tolist(),
            "body_pose": self.body_pose[i].tolist(),
            "transl": [0.0, 0.0, 0.0],
            "camera": {"K": cam.K[0].tolist(), "R": cam.R[0].tolist(), "t": cam.t[0].tolist(),
                       "width": cam.width, "height": cam.height,
                       "convention": "OpenCV, world-to-camera: x_cam = R x_world + t; world = model frame (Y up)"},
            "reprojection_error_px": float(self.reprojection_error_px[i]),
            "losses": {k: float(v[i]) for k, v in self.losses.items()},
        }


def prune_regressor(weights: torch.Tensor, mass: float = 0.999) -> torch.Tensor:
    """Keep, per row of a non-negative ``(K, V)`` regressor, the largest weights that hold
    ``mass`` of the row's total, renormalised to the same row sums (for fast fitting:
    the regressed point moves by well under a millimetre)."""
    sorted_w, order = weights.sort(dim=1, descending=True)
    cumulative = sorted_w.cumsum(1) / sorted_w.sum(1, keepdim=True).clamp(min=1e-12)
    keep_sorted = (cumulative - sorted_w / sorted_w.sum(1, keepdim=True).clamp(min=1e-12)) < mass
    keep = torch.zeros_like(weights, dtype=torch.bool).scatter(1, order, keep_sorted)
    pruned = torch.where(keep, weights, torch.zeros_like(weights))
    return pruned * (weights.sum(1, keepdim=True) / pruned.sum(1, keepdim=True).clamp(min=1e-12))


def default_focal(width: int, height: int) -> float:
    """A sane focal length (pixels) when EXIF and the user give none: the image diagonal
    (≈ 53° diagonal field of view, a normal lens)."""
    return float(np.hypot(width, height))


class SMPLify:
    """Batched SMPLify fitter for SMPL-type models (the open body, SMPL, SMPL+H, SMPL-X).

    Args:
        model: a :class:`BodyModel` (body types; MANO is not supported).
        pose_prior: module ``body_pose (B, 69) -> (B,)``; default
            :class:`~humanrecon.fitting.priors.EverydayPosePrior` (a mixture fitted to the
            tuning half of the everyday pose library, plus joint limits); or
            :class:`~humanrecon.fitting.priors.JointLimitPrior` (anatomical, centred on the
            T-pose) or :class:`~humanrecon.fitting.priors.GMMPosePrior` (SMPLify's GMM file).
            SMPL+H/SMPL-X models (63-dim body pose) get their first 21 joints' limits.
        stages: optimisation schedule (:data:`DEFAULT_STAGES`).
        optimizer: ``"lbfgs"`` (default) or ``"adam"``.
        rho: Geman-McClure scale (outlier threshold) in percent of the person's height
            in the image (the person's height is estimated from the initial depth).
        keypoint_sigma: keypoint noise in the same units; the data term is
            ``Σ conf ρ(r²) / (2 σ²)``, so the priors' weights are relative to it.
        upright_weight: weight of :func:`~humanrecon.fitting.priors.upright_prior` (people
            in photos mostly stand upright in a roughly level camera's view); 0 disables.
        num_betas: shape components fitted (≤ the model's).
        start_poses: the poses the fit may start from: ``"library"`` (default: the rest
            pose and the TUNING half of :mod:`humanrecon.body.pose_library`, never the
            half the benchmark reports on), ``"mocap"`` (the rest pose and the shipped
            bank of poses from real motion capture, CMU training subjects only:
            ``tools/build_mocap_priors.py``), None (the rest pose only), or arrays
            ``(global_orient (M, 3), body_pose (M, P))``.
        start_yaws: yaws (radians about the vertical) at which every start pose is tried.
        starts: how many of the (pose, yaw) candidates start the first stage, per person:
            those whose weak-perspective projection best matches the keypoints
            (:mod:`humanrecon.fitting.starts`); ``keep`` of them (lowest loss after the first
            stage) are optimised to the end and the best is kept.
        swap_search: also fit the best start to the detections with each pair of limbs
            exchanged left for right (detectors swap sides); the lowest loss over the same
            detections, however assigned, wins.
        mirror_search: then try each arm and leg swung to its depth mirror (same
            image; :mod:`humanrecon.fitting.mirrors`) and keep it where the loss, priors
            included, prefers it.
    """

    def __init__(self, model: BodyModel, pose_prior: torch.nn.Module | None = None,
                 stages: Sequence[Stage] = DEFAULT_STAGES, optimizer: str = "lbfgs", rho: float = 20.0,
                 keypoint_sigma: float = 0.7071, upright_weight: float = 100.0,
                 num_betas: int | None = None, adam_lr: float = 0.02,
                 start_yaws: Sequence[float] = DEFAULT_START_YAWS, start_poses: str | tuple | None = "library",
                 starts: int = 6, keep: int = 3, mirror_search: bool = True,
                 swap_search: bool = True, rest_starts: bool = True) -> None:
        if model.model_type == "mano":
            raise InputError("SMPLify fits bodies; a MANO hand model cannot be fitted to body keypoints")
        if optimizer not in ("lbfgs", "adam"):
            raise InputError(f"optimizer must be 'lbfgs' or 'adam', got '{optimizer}'")
        self.model = model
        self.kmap = keypoint_map(model, "body25")
        self.pose_prior = pose_prior if pose_prior is not None else EverydayPosePrior()
        self.stages = tuple(stages)
        self.optimizer = optimizer
        self.rho = rho
        self.upright_weight = upright_weight
        self.keypoint_sigma = keypoint_sigma
        self.adam_lr = adam_lr
        self.num_betas = min(num_betas or model.num_betas, model.num_betas)
        self.body_dim = model.input_sizes()["body_pose"]
        self.torso_mask = torch.tensor([n in TORSO for n in self.kmap.names])
        # only the vertices the keypoints depend on are skinned while optimising; surface
        # weights are pruned to 99.9 % of each row (the final mesh uses the exact map)
        folded = self.kmap.fold_extras(model)
        folded = replace(folded, vertex_weights=prune_regressor(folded.vertex_weights))
        self.vertex_ids = folded.vertex_weights.abs().sum(0).nonzero()[:, 0]
        self.partial_kmap = folded.restrict(self.vertex_ids)
        self.start_yaws = tuple(start_yaws)
        self.start_poses = start_poses
        self.starts = max(1, starts)
        self.keep = max(1, min(keep, self.starts))
        self.mirror_search = mirror_search
        self.swap_search = swap_search
        self.rest_starts = rest_starts
        self._candidates: StartCandidates | None = None

    # ----------------------------------------------------------------- helpers
    def _forward(self, params: dict[str, torch.Tensor], full_mesh: bool = False):
        """Body output and BODY_25 keypoints ``(B, 25, 3)``; while optimising (not
        ``full_mesh``) only the vertices the keypoints need are computed."""
        betas = torch.nn.functional.pad(params["betas"], (0, self.model.num_betas - self.num_betas))
        out = self.model(betas=betas, global_orient=params["global_orient"], body_pose=params["body_pose"],
                         vertex_ids=None if full_mesh else self.vertex_ids)
        return out, (self.kmap if full_mesh else self.partial_kmap)(out)

    def _camera(self, intrinsics: torch.Tensor, t: torch.Tensor, size: tuple[int, int]) -> Camera:
        R = FRONT_VIEW_R.to(t).expand(t.shape[0], 3, 3)
        return Camera(intrinsics, R, t, size[0], size[1])

    def _pose_prior(self, body_pose: torch.Tensor) -> torch.Tensor:
        if self.body_dim == 69:
            return self.pose_prior(body_pose)
        padded = torch.nn.functional.pad(body_pose, (0, 69 - self.body_dim))  # SMPL+H/X: 21 joints
        return self.pose_prior(padded)

    # ----------------------------------------------------------------- initialisation
    def initial_translation(self, points: torch.Tensor, conf: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
        """Camera translation ``(B, 3)`` by similar triangles: depth = focal × 3D length of
        the mean body / 2D length, for the torso sides, the shoulders and the hips, and
        focal × 2.3 m / the keypoints' image extent; foreshortening only shortens what the
        camera sees, so each is an upper bound and the smallest wins. Then the 2D torso
        centre is back-projected to that depth."""
        with torch.no_grad():
            zeros = {"betas": torch.zeros(1, self.num_betas), "global_orient": torch.zeros(1, 3),
                     "body_pose": torch.zeros(1, self.body_dim)}
            out, kp3d = self._forward({k: v.to(points) for k, v in zeros.items()}, full_mesh=True)
        kp3d = kp3d[0]
        names = self.kmap.names
        idx = {n: i for i, n in enumerate(names)}
        batch = points.shape[0]
        focal = intrinsics[:, 0, 0]
        seen = conf > 0
        # Each rigid segment gives depth = focal * length_3d / length_2d. Foreshortening only
        # shortens a 2D length, so every cue over-estimates depth: keep the smallest.
        depth = torch.full((batch,), float("inf"), dtype=points.dtype)
        cues = ([("left_shoulder", "left_hip"), ("right_shoulder", "right_hip")],
                [("left_shoulder", "right_shoulder")], [("left_hip", "right_hip")])
        for pairs in cues:
            total_2d = torch.zeros(batch, dtype=points.dtype)
            total_3d = torch.zeros(batch, dtype=points.dtype)
            count = torch.zeros(batch, dtype=points.dtype)
            for a, b in pairs:
                ok = (seen[:, idx[a]] & seen[:, idx[b]]).to(points.dtype)
                total_2d = total_2d + ok * (points[:, idx[a]] - points[:, idx[b]]).norm(dim=-1)
                total_3d = total_3d + ok * (kp3d[idx[a]] - kp3d[idx[b]]).norm()
                count = count + ok
            cue = focal * total_3d / total_2d.clamp(min=1.0)
            depth = torch.where((count > 0) & (total_2d > 1.0), torch.minimum(depth, cue), depth)
        # The keypoints' image extent bounds depth too: no pose spans more than
        # MAX_EXTENT_M in 3D (arms raised), whatever the foreshortening of the torso.
        extent = self._extent_2d(points, seen)
        depth = torch.minimum(depth, focal * MAX_EXTENT_M / extent.clamp(min=1.0))

        torso = seen & self.torso_mask
        torso = torch.where(torso.any(1, keepdim=True), torso, seen)
        w = torso.to(points.dtype)
        centre_2d = (points * w[..., None]).sum(1) / w.sum(1, keepdim=True)
        centre_3d = (kp3d[None] * w[..., None]).sum(1) / w.sum(1, keepdim=True)  # (B, 3) model frame
        pixel_h = torch.cat([centre_2d, torch.ones(batch, 1, dtype=points.dtype)], dim=1)
        ray = torch.linalg.solve(intrinsics, pixel_h[..., None])[..., 0]
        target = ray * depth[:, None]  # camera frame, z = depth
        return target - (FRONT_VIEW_R.to(points) @ centre_3d[..., None])[..., 0]

    @staticmethod
    def _extent_2d(points: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
        big = torch.finfo(points.dtype).max
        lo = torch.where(seen[..., None], points, torch.full_like(points, big)).amin(1)
        hi = torch.where(seen[..., None], points, torch.full_like(points, -big)).amax(1)
        return (hi - lo).norm(dim=-1)

    # ----------------------------------------------------------------- objective
    def _loss_terms(self, params, targets, conf, intrinsics, size, scale, depth_init, stage: Stage,
                    full_mesh: bool = False):
        out, kp3d = self._forward(params, full_mesh)
        proj = self._camera(intrinsics, params["transl"], size).project(kp3d)
        weight = conf * self.kmap.available.to(conf)
        if stage.torso_only:
            weight = weight * self.torso_mask.to(conf)
        residual_sq = ((proj - targets) / scale[:, None, None]).square().sum(-1)
        robust = geman_mcclure(residual_sq, stage.rho or self.rho) / (2.0 * self.keypoint_sigma ** 2)
        terms = {"data": (weight * robust).sum(-1)}
        terms["pose"] = self._pose_prior(params["body_pose"])
        terms["shape"] = shape_prior(params["betas"])
        terms["bend"] = bending_prior(torch.nn.functional.pad(params["body_pose"], (0, 69 - self.body_dim)))
        terms["upright"] = upright_prior(params["global_orient"])
        total = terms["data"] + stage.pose_weight * terms["pose"] + stage.shape_weight * terms["shape"] \
            + stage.bend_weight * terms["bend"] + self.upright_weight * terms["upright"]
        if stage.depth_weight:
            total = total + stage.depth_weight * (params["transl"][:, 2] - depth_init).square()
        return total, terms, out, kp3d, proj

    def _run_stage(self, params, stage: Stage, args, progress) -> None:
        variables = [params[k] for k in stage.optimize]
        for p in params.values():
            p.requires_grad_(False)
        for v in variables:
            v.requires_grad_(True)

        def closure():
            opt.zero_grad()
            total = self._loss_terms(params, *args, stage)[0].sum()
            total.backward()
            return total

        if self.optimizer == "lbfgs":
            opt = torch.optim.LBFGS(variables, lr=1.0, max_iter=stage.iterations, history_size=20,
                                    line_search_fn="strong_wolfe", tolerance_grad=1e-7, tolerance_change=1e-10)
            opt.step(closure)
            self._iterations += int(opt.state[opt._params[0]].get("n_iter", stage.iterations))
        else:
            opt = torch.optim.Adam(variables, lr=self.adam_lr)
            for _ in range(stage.iterations * 4):
                opt.step(closure)
            self._iterations += stage.iterations * 4
        progress.update(stage.iterations)

    # ----------------------------------------------------------------- public API
    def fit(self, keypoints: torch.Tensor, confidence: torch.Tensor, intrinsics: torch.Tensor,
            image_size: tuple[int, int] | Sequence[tuple[int, int]], *, progress: bool = True,
            seed: int = 0) -> FitResult:
        """Fit one body per row.

        Args:
            keypoints: ``(B, 25, 2)`` pixels in the BODY_25 order of
                :data:`humanrecon.body.keypoints.BODY25_NAMES` (use
                :func:`humanrecon.fitting.keypoint_io.to_layout` to convert).
            confidence: ``(B, 25)`` in [0, 1]; 0 = ignore.
            intrinsics: ``(B, 3, 3)`` or ``(3, 3)`` camera matrices (pixels).
            image_size: ``(width, height)``, shared by all rows (the Camera needs one size;
                it only matters for ``camera.rays``).
            seed: for reproducibility (the fit is deterministic given its inputs).
        Returns:
            :class:`FitResult`.
        """
        torch.manual_seed(seed)
        targets, conf, intr, size = self._inputs(keypoints, confidence, intrinsics, image_size)
        batch = targets.shape[0]
        transl0 = self.initial_translation(targets, conf, intr)
        depth0 = transl0[:, 2].clone()
        scale = intr[:, 0, 0] * 1.7 / depth0 / 100.0  # 1 unit = 1 % of the person's image height
        per_person = (targets, conf, intr, size, scale, depth0)
        self._iterations = 0
        total = sum(s.iterations for s in self.stages) \
            + MIRROR_REFINE.iterations * self.mirror_search
        with tqdm(total=total, desc="SMPLify", disable=not progress, leave=False) as bar:
            # stage 1 from the best-matching start poses, for the detections as given and (one
            # start each) with each limb pair swapped left/right; the best `keep` go all the way
            hypotheses = [(targets, conf, self.starts)]
            if self.swap_search:
                hypotheses += [(t, c, 1) for t, c in self._swapped_detections(targets, conf)]
            starts = [self._start_params(transl0, t, c, count) for t, c, count in hypotheses]
            params = {k: torch.cat([p[k] for p in starts]) for k in starts[0]}
            counts = [len(p["transl"]) // batch for p in starts]  # starts per hypothesis
            args = (torch.cat([t.repeat(n, 1, 1) for (t, _, _), n in zip(hypotheses, counts)]),
                    torch.cat([c.repeat(n, 1) for (_, c, _), n in zip(hypotheses, counts)])) \
                + self._repeat(per_person[2:], sum(counts))
            self._run_stage(params, self.stages[0], args, bar)
            params, args = self._best(params, args, replace(self.stages[0], torso_only=False), batch, self.keep)
            for stage in self.stages[1:]:
                self._run_stage(params, stage, args, bar)
            params, args = self._best(params, args, self.stages[-1], batch, 1)
            per_person = args  # the detections as the winner assigned them (left/right)
            if self.mirror_search:
                params = self._search_mirrors(params, per_person, batch, bar)
        return self._result(params, targets, conf, intr, size, scale, depth0, self._iterations)

    def refine(self, start: dict[str, torch.Tensor], keypoints: torch.Tensor, confidence: torch.Tensor,
               intrinsics: torch.Tensor, image_size, stages: Sequence[Stage] | None = None, *,
               progress: bool = False, extra_iterations: int = 0) -> FitResult:
        """Optimise from given starts, without the start search (e.g. a learned fitter's
        result): ``stages`` (default: all but the torso stage) from every start, the lowest
        final loss kept per person, then the depth-mirror search when enabled.

        Args:
            start: ``transl (C·B, 3)`` camera translation, ``global_orient (C·B, 3)``,
                ``body_pose (C·B, P)`` axis-angle, ``betas (C·B, S)`` (``S`` = ``num_betas``):
                ``C >= 1`` starts per person, candidate-major (row ``c·B + b`` is person
                ``b``'s ``c``-th start). The data term's scale (1 % of the person's height)
                comes from the first start's depth, so every start is scored alike.
            keypoints, confidence, intrinsics, image_size: as :meth:`fit` (``B`` people).
            extra_iterations: added to the result's ``iterations`` (the start's own).
        """
        targets, conf, intr, size = self._inputs(keypoints, confidence, intrinsics, image_size)
        batch = targets.shape[0]
        params = {k: torch.as_tensor(start[k], dtype=targets.dtype).detach().clone()
                  for k in ("transl", "global_orient", "body_pose", "betas")}
        rows = params["transl"].shape[0]
        if rows % batch or params["body_pose"].shape != (rows, self.body_dim) \
                or params["betas"].shape != (rows, self.num_betas):
            raise InputError(f"start must hold body_pose (C·B, {self.body_dim}) and betas (C·B, {self.num_betas}) "
                             f"for B = {batch} people, got {tuple(params['body_pose'].shape)} and "
                             f"{tuple(params['betas'].shape)}")
        depth0 = params["transl"][:batch, 2].clone()
        scale = intr[:, 0, 0] * 1.7 / depth0.clamp(min=1e-3) / 100.0
        per_person = (targets, conf, intr, size, scale, depth0)
        args = self._repeat(per_person, rows // batch)
        stages = self.stages[1:] if stages is None else tuple(stages)
        self._iterations = 0
        total = sum(s.iterations for s in stages) + MIRROR_REFINE.iterations * self.mirror_search
        with tqdm(total=total, desc="SMPLify", disable=not progress, leave=False) as bar:
            for stage in stages:
                self._run_stage(params, stage, args, bar)
            if rows > batch:
                params, _ = self._best(params, args, stages[-1] if stages else self.stages[-1], batch, 1)
            if self.mirror_search:
                params = self._search_mirrors(params, per_person, batch, bar)
        return self._result(params, targets, conf, intr, size, scale, depth0, self._iterations + extra_iterations)

    def result_from(self, params: dict[str, torch.Tensor], keypoints: torch.Tensor, confidence: torch.Tensor,
                    intrinsics: torch.Tensor, image_size, iterations: int = 0) -> FitResult:
        """The :class:`FitResult` of given parameters (as :meth:`refine`'s ``start``)
        without optimising: meshes, reprojection errors and loss terms."""
        targets, conf, intr, size = self._inputs(keypoints, confidence, intrinsics, image_size)
        params = {k: torch.as_tensor(v, dtype=targets.dtype).detach() for k, v in params.items()}
        depth0 = params["transl"][:, 2]
        scale = intr[:, 0, 0] * 1.7 / depth0.clamp(min=1e-3) / 100.0
        return self._result(params, targets, conf, intr, size, scale, depth0, iterations)

    def _inputs(self, keypoints, confidence, intrinsics, image_size):
        """Checked ``(targets (B, K, 2), conf (B, K), intrinsics (B, 3, 3), (width, height))``."""
        dtype = self.model.v_template.dtype
        targets = torch.as_tensor(keypoints, dtype=dtype)
        conf = torch.as_tensor(confidence, dtype=dtype)
        batch = targets.shape[0]
        if targets.shape != (batch, len(self.kmap.names), 2) or conf.shape != (batch, len(self.kmap.names)):
            raise InputError(f"keypoints must be (B, {len(self.kmap.names)}, 2) and confidence (B, "
                             f"{len(self.kmap.names)}), got {tuple(targets.shape)} and {tuple(conf.shape)}")
        if not torch.isfinite(targets).all() or not torch.isfinite(conf).all():
            raise InputError("keypoints or confidence contain NaN or infinite values")
        if not (conf > 0).any(1).all():
            raise InputError("a person has no keypoint with confidence > 0")
        intr = torch.as_tensor(intrinsics, dtype=dtype)
        intr = intr.expand(batch, 3, 3) if intr.ndim == 2 else intr
        size = tuple(image_size) if not isinstance(image_size[0], (tuple, list)) else tuple(image_size[0])
        return targets, conf, intr, size

    # ----------------------------------------------------------------- starts and mirrors
    def start_candidates(self) -> StartCandidates:
        """The candidate starts (built once): the start poses (default: the rest pose and
        the TUNING half of the everyday pose library) at every start yaw."""
        if self._candidates is None:
            if isinstance(self.start_poses, str) and self.start_poses == "library":
                from humanrecon.body.pose_library import library_poses

                _, body, root = library_poses("tuning", self.body_dim // 3)
                root = np.concatenate([np.zeros((1, 3), np.float32), root])
                body = np.concatenate([np.zeros((1, self.body_dim), np.float32), body])
            elif isinstance(self.start_poses, str) and self.start_poses == "mocap":
                from humanrecon.fitting.starts import start_bank

                root, body = start_bank(self.body_dim)
            elif isinstance(self.start_poses, str):
                raise InputError(f"start_poses must be 'library', 'mocap', None or arrays, got {self.start_poses!r}")
            elif self.start_poses is None:
                root, body = np.zeros((1, 3), np.float32), np.zeros((1, self.body_dim), np.float32)
            else:
                root, body = self.start_poses
            dtype = self.model.v_template.dtype
            root, body = torch.as_tensor(root, dtype=dtype), torch.as_tensor(body, dtype=dtype)
            if body.shape[1:] != (self.body_dim,) or root.shape != (body.shape[0], 3):
                raise InputError(f"start_poses must be (global_orient (M, 3), body_pose (M, {self.body_dim})), "
                                 f"got {tuple(root.shape)} and {tuple(body.shape)}")

            def forward(orient, pose):
                params = {"betas": torch.zeros(len(pose), self.num_betas, dtype=dtype),
                          "global_orient": orient, "body_pose": pose}
                out, kp3d = self._forward(params)
                return out.joints, kp3d

            yaws = torch.tensor(self.start_yaws, dtype=dtype)
            self._candidates = make_candidates(forward, root, body, yaws)
        return self._candidates

    def _start_params(self, transl: torch.Tensor, targets: torch.Tensor, conf: torch.Tensor, count: int) -> dict:
        """Each person's ``count`` best-matching candidates, stacked ``(count * B, ...)``
        start-major, with the initial camera translation and the mean shape."""
        candidates = self.start_candidates()
        seen = conf * self.kmap.available.to(conf)
        index = rank_starts(candidates, targets, seen, count, self.rho)  # (B, S)
        if index.shape[1] < count:  # fewer candidates than starts: repeat the best
            index = torch.cat([index, index[:, :1].expand(-1, count - index.shape[1])], 1)
        if self.rest_starts and count > 1:  # SMPLify's own starts too: the rest pose facing 4 ways
            rest = [i for i, yaw in enumerate(self.start_yaws) if abs(np.cos(2 * yaw) - 1) < 1e-6]
            index = torch.cat([index, torch.tensor(rest).expand(index.shape[0], -1)], 1)
            count = index.shape[1]
        rows = index.T.reshape(-1)
        batch = transl.shape[0]
        return {"transl": transl.repeat(count, 1), "global_orient": candidates.global_orient[rows].clone(),
                "body_pose": candidates.body_pose[rows].clone(),
                "betas": torch.zeros(count * batch, self.num_betas, dtype=transl.dtype)}

    def _swapped_detections(self, targets: torch.Tensor, conf: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The detections with each limb pair's left and right chains exchanged
        (:data:`~humanrecon.body.keypoints.BODY25_LIMB_PAIRS`: arms, legs), as detectors
        sometimes report them: ``[(targets (B, K, 2), conf (B, K)), ...]``."""
        index = {name: i for i, name in enumerate(self.kmap.names)}
        out = []
        for left, right in BODY25_LIMB_PAIRS:
            order = list(range(len(self.kmap.names)))
            for a, b in zip(left, right):
                order[index[a]], order[index[b]] = index[b], index[a]
            out.append((targets[:, order], conf[:, order]))
        return out

    def _search_mirrors(self, params: dict, per_person: tuple, batch: int, bar) -> dict:
        """Try every limb swung to its depth mirror (:mod:`humanrecon.fitting.mirrors`):
        the best alternative per limb (by the full loss, priors included, as it stands) is
        combined, the combination re-fitted briefly, and kept where it lowers the loss."""
        stage = self.stages[-1]
        with torch.no_grad():
            out, _ = self._forward(params)
            camera = self._camera(per_person[2], params["transl"], per_person[3])
            centre = camera.center  # (B, 3) model frame
        limbs = limb_indices(self.model.joint_names)
        candidates = []
        for limb in limbs:
            view = out.joints[:, limb[0]] - centre
            view = view / view.norm(dim=-1, keepdim=True)
            candidates += limb_alternatives(params["global_orient"], params["body_pose"], out.joints,
                                            self.model.parents, limb, view)
        trial = {k: torch.cat([v.detach()] * len(candidates)) for k, v in params.items()}
        trial["body_pose"] = torch.cat(candidates).detach()
        trial_args = self._repeat(per_person, len(candidates))
        with torch.no_grad():
            current = self._loss_terms(params, *per_person, stage)[0]  # (B,)
            trial_loss = self._loss_terms(trial, *trial_args, stage)[0].view(len(candidates), batch)
        per_limb = len(candidates) // len(limbs)
        combined = {k: v.detach().clone() for k, v in params.items()}
        for k, limb in enumerate(limbs):
            loss = trial_loss[k * per_limb:(k + 1) * per_limb]  # (alternatives, B)
            best = loss.argmin(0)
            better = loss.gather(0, best[None])[0] < current
            rows = (k * per_limb + best) * batch + torch.arange(batch)
            for joint in limb[:2]:
                cols = slice(3 * (joint - 1), 3 * joint)
                combined["body_pose"][:, cols] = torch.where(better[:, None], trial["body_pose"][rows, cols].detach(),
                                                             combined["body_pose"][:, cols])
        self._run_stage(combined, MIRROR_REFINE, per_person, bar)
        with torch.no_grad():
            keep_new = self._loss_terms(combined, *per_person, stage)[0] < current
        return {k: torch.where(keep_new.view(-1, *([1] * (v.ndim - 1))), combined[k], v).detach()
                for k, v in params.items()}

    @staticmethod
    def _repeat(args: tuple, times: int) -> tuple:
        """Stack per-person arguments ``times`` over (``size`` is shared)."""
        return tuple(a if isinstance(a, tuple) else torch.cat([a] * times) for a in args)

    def _best(self, params: dict, args: tuple, stage: Stage, batch: int, keep: int) -> tuple[dict, tuple]:
        """Of the candidates stacked as ``(candidates * B, ...)``, keep the ``keep`` with the
        lowest loss per person, stacked the same way (best first), with their arguments."""
        with torch.no_grad():
            loss = self._loss_terms(params, *args, stage)[0].view(-1, batch)  # (C, B)
        order = loss.argsort(dim=0)[:keep]  # (keep, B)
        rows = (order * batch + torch.arange(batch)).reshape(-1)
        return ({k: v[rows].detach().clone() for k, v in params.items()},
                tuple(a if isinstance(a, tuple) else a[rows] for a in args))

    def _result(self, params, targets, conf, intr, size, scale, depth0, iterations) -> FitResult:
        with torch.no_grad():
            _, terms, out, kp3d, proj = self._loss_terms(params, targets, conf, intr, size, scale,
                                                         depth0, self.stages[-1], full_mesh=True)
            seen = (conf > 0) & self.kmap.available
            err = ((proj - targets).norm(dim=-1) * seen).sum(1) / seen.sum(1).clamp(min=1)
        betas = torch.nn.functional.pad(params["betas"], (0, self.model.num_betas - self.num_betas))
        return FitResult(
            betas=betas.detach().cpu(), global_orient=params["global_orient"].detach().cpu(),
            body_pose=params["body_pose"].detach().cpu(),
            camera=self._camera(intr, params["transl"].detach(), size).to("cpu"),
            vertices=out.vertices.detach().cpu(), keypoints_3d=kp3d.detach().cpu(),
            keypoints_2d=proj.detach().cpu(), names=self.kmap.names,
            reprojection_error_px=err.cpu(), losses={k: v.detach().cpu() for k, v in terms.items()},
            iterations=iterations,
        )


