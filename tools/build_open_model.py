#!/usr/bin/env python
"""Build the open, SMPL-compatible neutral body model from ``anny`` (build time only).

humanrecon never imports ``anny`` at run time: this script turns anny 0.6.2 (Apache-2.0,
"Anny, Copyright (C) 2025 NAVER Corporation", built on CC0 MakeHuman/MPFB2 assets) into a
plain ``.npz`` in SMPL's layout, plus a small reference fixture of anny's *own* outputs that
tests use as an independent oracle.

Recipe
------
1. Load anny with the watertight ``anny-noeyes-notongue`` topology (13,348 vertices).
2. Sample adult phenotypes from anny's own shape distribution (morphological age 18-80,
   gender uniform), seeded.
3. T-pose every sample with anny's own skinning (``world-orient`` pose parameterisation):
   the upper arm, forearm and hand of each side are turned by the smallest rotation that
   lays them along +-X (arms horizontal); everything else keeps its rest orientation.
4. Convert axes: anny is Z-up facing -Y, SMPL is Y-up facing +Z; both have the body's left
   at +X, so ``x_smpl = C @ x_anny`` with ``C`` a -90 degree rotation about X. Then shift
   so that the training mean's pelvis (anny ``root`` head) is at the origin.
5. PCA of the T-posed training shapes: ``v_template`` is the mean, ``shapedirs`` are the
   principal directions times sqrt(eigenvalue) (betas in standard deviations).
6. Merge anny's 104 bones into SMPL's 24 joints (``BONE_PREFIX_TO_JOINT``) by summing
   skinning weights; fit ``J_regressor`` to the merged bones' heads (``JOINT_HEAD_BONES``)
   on the T-posed training shapes: by default non-negative rows summing to 1 (NNLS over all
   vertices), or with ``--regressor signed`` ridge least squares with signed weights.
7. Re-index anny's COCO keypoint regressor to the mesh (the eye keypoints, which lean on
   the removed eyeballs, are refitted against anny's default topology).

Outputs
-------
``--out`` (default ``assets/models/open_body.npz``), SMPL's layout without ``posedirs``:
    v_template (V,3) f4, shapedirs (V,3,K) f4, J_regressor (24,V) f4, weights (V,24) f4,
    kintree_table (2,24) i8, f (F,3) i8, coco_regressor (23,V) f4, coco_names (23,) str,
    joint_names (24,) str, shape_std (K,) f4 [m], explained_variance_ratio (K,) f4,
    metadata 0-d str (JSON: source, licence, topology, samples, seed, measured stats).

``--fixture-out`` (default ``tests/data/open_body_reference.npz``), anny's own outputs:
    vertex_ids (S,) i8            indices into the model's vertices (sorted)
    vertices (N,S,3) f4           anny's vertices at ``vertex_ids``, SMPL frame, metres
    joints (N,24,3) f4            anny's merged-bone heads (SMPL joints), SMPL frame
    betas (N,K) f4                the model's betas reproducing each shape (PCA projection)
    global_orient (N,3) f4        SMPL axis-angle (zeros for the T-pose cases)
    body_pose (N,69) f4           SMPL axis-angle for joints 1..23
    transl (N,3) f4               zeros: vertices are in the model's own frame
    posed (N,) bool               False for the T-pose cases
    phenotypes (N,6) f4           anny phenotype values (gender, age, muscle, weight,
                                  height, proportions) that generated each case
    mean_error_m (N,) f4          per-case mean vertex error [m] of this script's numpy
                                  LBS of the built model (all vertices, K betas)
    max_mean_error_m (N,) f4      test limit per case: 1.5 * mean_error_m + 0.2 mm
Cases: ``--fixture-tpose`` (6) fresh adult shapes in the T-pose, then ``--fixture-posed`` (4)
in random poses (0.3 rad per body joint, 0.6 rad global; feet 10/11 and hands 22/23 left
unrotated, since anny turns each toe/finger about its own knuckle). Comparing
``model(betas=, global_orient=, body_pose=).vertices[:, vertex_ids]`` (all K betas: with 10
the T-pose error grows from ~0.2 to ~0.7 mm) with ``vertices`` measures the whole
conversion (PCA, weights merge, joint regressor); the build prints the errors it measures.

``--hand-out`` (default ``assets/models/open_hand_right.npz``), MANO's layout without
``posedirs``, from ``Anny(rig='anny-hand.R', topology='hand.R')`` (1,609 vertices, open at
the wrist; anny's 21 bones merged into MANO's 16 joints, metacarpals into the wrist):
    v_template (V,3), shapedirs (V,3,10), J_regressor (16,V), weights (V,16) f4,
    kintree_table (2,16) i8, f (F,3) i8, hands_components (45,45) = I, hands_mean (45,) = 0,
    joint_names (16,) (wrist, index1-3, middle1-3, pinky1-3, ring1-3, thumb1-3),
    fingertip_vertex_ids (5,) i8 (thumb, index, middle, ring, pinky), shape_std (10,),
    explained_variance_ratio (10,), metadata 0-d str (JSON).
    Frame: the right hand as it lies at the end of the T-posed body's right arm (SMPL axes:
    fingers along -X, palm down, thumb towards +Z), anny's wrist head at the origin.

Usage: ``python tools/build_open_model.py`` (about 1 minute on 2 CPU cores once anny's
cache exists; anny's first load adds 1-2 minutes). Deterministic for a given ``--seed``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass

import numpy as np

ANNY_VERSION = "0.6.2"
TOPOLOGY = "anny-noeyes-notongue"
REFERENCE_TOPOLOGY = "anny"  # default topology, with eyeballs: oracle for the eye keypoints
PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")

JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_big_toe",
    "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)
REFIT_KEYPOINTS = ("left_eye", "right_eye")  # their anny weights sit mostly on eyeballs

# anny bone name (side suffix stripped) prefix -> SMPL joint name (side added back).
BONE_PREFIX_TO_JOINT = (
    ("root", "pelvis"), ("pelvis", "pelvis"), ("spine05", "pelvis"),
    ("spine04", "spine1"), ("spine03", "spine1"), ("spine02", "spine2"),
    ("spine01", "spine3"), ("neck", "neck"), ("head", "head"), ("eye", "head"),
    ("clavicle", "collar"), ("shoulder01", "collar"), ("upperarm", "shoulder"),
    ("lowerarm", "elbow"), ("wrist", "wrist"), ("metacarpal", "wrist"),
    ("finger1-", "wrist"), ("finger", "hand"), ("upperleg", "hip"),
    ("lowerleg", "knee"), ("foot", "ankle"), ("toe", "foot"),
)
# SMPL joint (without side) -> anny bones (without side) whose mean head is the joint.
JOINT_HEAD_BONES = {
    "pelvis": ("root",), "hip": ("upperleg01",), "spine1": ("spine04",),
    "knee": ("lowerleg01",), "spine2": ("spine02",), "ankle": ("foot",),
    "spine3": ("spine01",), "foot": ("toe1-1", "toe2-1", "toe3-1", "toe4-1", "toe5-1"),
    "neck": ("neck01",), "collar": ("clavicle",), "head": ("head",),
    "shoulder": ("upperarm01",), "elbow": ("lowerarm01",), "wrist": ("wrist",),
    "hand": ("finger2-1", "finger3-1", "finger4-1", "finger5-1"),
}
# T-pose: (bone whose subtree turns, bone whose head it aims at), in chain order.
ARM_SEGMENTS = (("upperarm01", "lowerarm01"), ("lowerarm01", "wrist"), ("wrist", "finger3-1"))

# Anny (Z up, facing -Y) -> SMPL (Y up, facing +Z); the left side stays at +X.
ANNY_TO_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


# ----------------------------------------------------------------------------- skeleton


def split_side(label: str) -> tuple[str, str]:
    """'upperarm01.L' -> ('upperarm01', 'left'); 'spine01' -> ('spine01', '')."""
    if label.endswith(".L"):
        return label[:-2], "left"
    if label.endswith(".R"):
        return label[:-2], "right"
    return label, ""


def joint_index(base: str, side: str) -> int:
    """Index in JOINT_NAMES of SMPL joint ``base`` ('hip') on ``side`` ('left'/'right'/'');
    midline joints ('pelvis' for anny's 'pelvis.L') ignore the side."""
    sided = f"{side}_{base}"
    return JOINT_NAMES.index(sided if sided in JOINT_NAMES else base)


def bone_to_joint(bone_labels: list[str]) -> np.ndarray:
    """(n_bones,) int: the SMPL joint each anny bone is merged into."""
    out = []
    for label in bone_labels:
        base, side = split_side(label)
        match = next((j for prefix, j in BONE_PREFIX_TO_JOINT if base.startswith(prefix)), None)
        if match is None:
            raise KeyError(f"anny bone {label!r} has no SMPL joint")
        out.append(joint_index(match, side))
    return np.asarray(out)


def joint_head_matrix(bone_labels: list[str]) -> np.ndarray:
    """(24, n_bones) float: row j averages the heads of the anny bones that define joint j."""
    index = {label: i for i, label in enumerate(bone_labels)}
    M = np.zeros((len(JOINT_NAMES), len(bone_labels)))
    for j, name in enumerate(JOINT_NAMES):
        side = name.split("_")[0] if name.startswith(("left_", "right_")) else ""
        base = name[len(side) + 1:] if side else name
        suffix = {"left": ".L", "right": ".R", "": ""}[side]
        bones = [index[b + suffix] for b in JOINT_HEAD_BONES[base]]
        M[j, bones] = 1.0 / len(bones)
    return M


def subtree(bone: int, parents: list[int]) -> list[int]:
    """Indices of ``bone`` and all its descendants (parents precede children in anny)."""
    inside = {bone}
    for b in range(bone + 1, len(parents)):
        if parents[b] in inside:
            inside.add(b)
    return sorted(inside)


# ----------------------------------------------------------------------------- rotations


def minimal_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(B,3,3) smallest rotations taking directions a (B,3) onto b (B,3) (not antiparallel)."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)
    K = np.zeros(a.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    K = K - np.swapaxes(K, -1, -2)
    return np.eye(3) + K + (K @ K) / (1.0 + c)[..., None, None]


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """(...,3) axis-angle [rad] -> (...,3,3) rotation matrices (Rodrigues)."""
    theta = np.linalg.norm(aa, axis=-1, keepdims=True)
    axis = aa / np.maximum(theta, 1e-12)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    K = np.zeros(aa.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 0] = -z, y, z
    K[..., 1, 2], K[..., 2, 0], K[..., 2, 1] = -x, -y, x
    s, c = np.sin(theta)[..., None], np.cos(theta)[..., None]
    return np.eye(3) + s * K + (1 - c) * (K @ K)


def global_rotations(global_orient: np.ndarray, body_pose: np.ndarray,
                     parents=SMPL_PARENTS) -> np.ndarray:
    """Axis-angles (B,3) root and (B,3(J-1)) others -> (B,J,3,3) world rotations of a
    kinematic tree given by ``parents`` (J,) (parents precede children; root -1)."""
    n = len(parents)
    local = axis_angle_to_matrix(np.concatenate([global_orient, body_pose], 1).reshape(-1, n, 3))
    G = [local[:, 0]]
    for j in range(1, n):
        G.append(G[parents[j]] @ local[:, j])
    return np.stack(G, 1)


# ----------------------------------------------------------------------------- anny


@dataclass
class AnnyRig:
    """An anny model with the bookkeeping this build needs."""

    model: object  # anny.Anny, world-orient parameterisation, dense LBS
    labels: list[str]
    parents: list[int]
    bone_joint: np.ndarray  # (n_bones,) SMPL joint of each bone
    joint_heads: np.ndarray  # (24, n_bones) head-averaging matrix
    arm_chains: list[tuple[int, int, list[int], np.ndarray]]  # pivot, aim, subtree, target dir


def load_anny_model(rig: str, topology: str):
    """anny.Anny (float64, world-orient pose parameterisation, dense LBS)."""
    import anny

    if anny.__version__ != ANNY_VERSION:
        raise RuntimeError(f"built against anny {ANNY_VERSION}, found {anny.__version__}")
    return anny.Anny(rig=rig, topology=topology, pose_parameterization="world-orient",
                     skinning_method="lbs")


def load_anny(topology: str) -> AnnyRig:
    """The full-body anny model (default rig, 104 bones) with the given topology."""
    model = load_anny_model("anny", topology)
    labels, parents = list(model.bone_labels), [int(p) for p in model.bone_parents]
    index = {label: i for i, label in enumerate(labels)}
    chains = []
    for suffix, direction in ((".L", (1.0, 0.0, 0.0)), (".R", (-1.0, 0.0, 0.0))):
        for pivot, aim in ARM_SEGMENTS:
            p = index[pivot + suffix]
            chains.append((p, index[aim + suffix], subtree(p, parents), np.array(direction)))
    return AnnyRig(model, labels, parents, bone_to_joint(labels), joint_head_matrix(labels),
                   chains)


def sample_adult_phenotypes(rig: AnnyRig, n: int, seed: int) -> np.ndarray:
    """(n,6) adult phenotypes (PHENOTYPES order) from anny's own shape distribution."""
    import torch
    from anny.shape_distribution import SimpleShapeDistribution

    torch.manual_seed(seed)
    age = torch.distributions.Uniform(torch.tensor(18.0, dtype=torch.float64),
                                      torch.tensor(80.0, dtype=torch.float64))
    dist = SimpleShapeDistribution(rig.model, morphological_age_distribution=age)
    _, kwargs = dist.sample(n)
    assert tuple(rig.model.phenotype_labels) == PHENOTYPES, rig.model.phenotype_labels
    return torch.stack([kwargs[k] for k in PHENOTYPES], 1).numpy()


def tpose_rotations(rig: AnnyRig, rest_heads: np.ndarray) -> np.ndarray:
    """(B,n_bones,3,3) world rotations (anny frame) taking rest (A-pose) bones to the T-pose.

    rest_heads: (B,n_bones,3) rest bone heads [m, anny frame]. Each arm segment's subtree
    turns about the segment's first head by the smallest rotation that aims it along +-X.
    """
    B, n = rest_heads.shape[:2]
    A = np.broadcast_to(np.eye(3), (B, n, 3, 3)).copy()
    heads = rest_heads.copy()
    for pivot, aim, bones, direction in rig.arm_chains:
        origin = heads[:, pivot]
        R = minimal_rotation(heads[:, aim] - origin, np.broadcast_to(direction, origin.shape))
        heads[:, bones] = np.einsum("bij,bkj->bki", R, heads[:, bones] - origin[:, None]) \
            + origin[:, None]
        A[:, bones] = R[:, None] @ A[:, bones]
    return A


def run_anny(rig: AnnyRig, phenotypes: np.ndarray, world_rotations=None) -> dict:
    """Pose anny in the T-pose, optionally followed by SMPL joint rotations.

    phenotypes: (B,6). world_rotations: None or (B,24,3,3) SMPL world rotations of the 24
    joints (SMPL frame), applied on top of the T-pose about anny's own bone heads.
    Returns float64 numpy arrays in the ANNY frame [m]: 'vertices' (B,V,3),
    'heads' (B,n_bones,3) posed bone heads, 'tpose_vertices' (B,V,3).
    """
    import torch

    model = rig.model
    phen = torch.as_tensor(phenotypes, dtype=model.dtype)
    with torch.no_grad():
        rest = model(pose_parameters=None, phenotype_kwargs=phen)
        R_rest = rest["rest_bone_poses"].numpy()  # (B,n,4,4)
        A = tpose_rotations(rig, R_rest[:, :, :3, 3])
        D = R_rest.copy()
        D[:, :, :3, :3] = A @ R_rest[:, :, :3, :3]
        tpose = model(pose_parameters=torch.as_tensor(D), phenotype_kwargs=phen)
        out = {"tpose_vertices": tpose["vertices"].numpy()}
        if world_rotations is None:
            out.update(vertices=out["tpose_vertices"],
                       heads=tpose["bone_poses"][..., :3, 3].numpy())
            return out
        C = ANNY_TO_SMPL
        G = C.T @ world_rotations[:, rig.bone_joint] @ C  # (B,n,3,3), anny frame
        D[:, :, :3, :3] = G @ D[:, :, :3, :3]
        posed = model(pose_parameters=torch.as_tensor(D), phenotype_kwargs=phen)
    out.update(vertices=posed["vertices"].numpy(), heads=posed["bone_poses"][..., :3, 3].numpy())
    return out


def to_smpl_frame(x: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """(...,3) anny-frame points [m] -> SMPL frame, minus ``offset`` (3,) (SMPL frame)."""
    return x @ ANNY_TO_SMPL.T - offset


def tposed_dataset(rig: AnnyRig, phenotypes: np.ndarray, batch: int, desc: str):
    """T-pose all phenotypes in batches: vertices (N,V,3), joints (N,24,3), anny frame."""
    from tqdm import tqdm

    verts, joints = [], []
    for s in tqdm(range(0, len(phenotypes), batch), desc=desc, unit="batch"):
        out = run_anny(rig, phenotypes[s:s + batch])
        verts.append(out["vertices"].astype(np.float64))
        joints.append(np.einsum("jb,nbk->njk", rig.joint_heads, out["heads"]))
    return np.concatenate(verts), np.concatenate(joints)


# ----------------------------------------------------------------------------- fitting


@dataclass
class ShapeSpace:
    """PCA of T-posed shapes: mean (V,3), dirs (V,3,K) scaled by std, std (K,), evr (K,)."""

    mean: np.ndarray
    dirs: np.ndarray
    std: np.ndarray
    evr: np.ndarray
    evr_all: np.ndarray  # cumulative explained variance ratio of every component

    def project(self, verts: np.ndarray) -> np.ndarray:
        """(N,V,3) -> (N,K) betas in standard deviations (least squares = projection)."""
        basis = self.dirs.reshape(-1, self.dirs.shape[-1])
        return (verts - self.mean).reshape(len(verts), -1) @ basis / self.std**2

    def truncated(self, k: int) -> ShapeSpace:
        """The first k components."""
        return ShapeSpace(self.mean, self.dirs[..., :k], self.std[:k], self.evr[:k], self.evr_all)

    def heldout_error(self, verts: np.ndarray) -> np.ndarray:
        """(N,V) per-vertex reconstruction error [m] of shapes (N,V,3) after projection."""
        return np.linalg.norm(self.reconstruct(self.project(verts)) - verts, axis=-1)

    def reconstruct(self, betas: np.ndarray) -> np.ndarray:
        """(N,K) betas -> (N,V,3) vertices."""
        return self.mean + np.einsum("vck,nk->nvc", self.dirs, betas)


def fit_pca(verts: np.ndarray, k: int, size_axis: int = 1) -> ShapeSpace:
    """PCA of (N,V,3) shapes. Sign: component 0 grows the extent along ``size_axis`` (Y:
    taller body, X: longer hand); the others have their largest-magnitude entry positive."""
    mean = verts.mean(0)
    X = (verts - mean).reshape(len(verts), -1)
    _, s, vt = np.linalg.svd(X, full_matrices=False)
    var = s**2 / (len(verts) - 1)
    comps = vt[:k].reshape(k, -1, 3)
    for i in range(k):
        if i == 0:
            y = mean[:, size_axis] + 1e-3 * comps[0, :, size_axis]
            flip = np.ptp(y) < np.ptp(mean[:, size_axis])
        else:
            flat = comps[i].ravel()
            flip = flat[np.argmax(np.abs(flat))] < 0
        if flip:
            comps[i] = -comps[i]
    std = np.sqrt(var[:k])
    dirs = np.transpose(comps, (1, 2, 0)) * std
    return ShapeSpace(mean, dirs, std, var[:k] / var.sum(), np.cumsum(var) / var.sum())


SUM_WEIGHT = 30.0  # weight of the sum-to-one row appended to regression problems



def lbs_arrays(space, J_reg: np.ndarray, weights: np.ndarray, parents, faces: np.ndarray) -> dict:
    """The arrays every SMPL-family file shares: template and shape space (``space`` from
    :func:`fit_pca`), regressor, weights, kintree table (root parent 2**32 - 1 as in the
    official files) and faces, in the official dtypes."""
    return {
        "v_template": space.mean.astype(np.float32),
        "shapedirs": space.dirs.astype(np.float32),
        "J_regressor": J_reg.astype(np.float32),
        "weights": weights.astype(np.float32),
        "kintree_table": np.stack([np.array(parents, dtype=np.int64) % 2**32,
                                   np.arange(len(parents), dtype=np.int64)]),
        "f": np.asarray(faces).astype(np.int64),
    }

def design_matrix(verts: np.ndarray) -> np.ndarray:
    """(N,P,3) points -> (3N+1, P) least-squares matrix: row (n, c) holds coordinate c of
    every point of shape n; the last row (SUM_WEIGHT) softly enforces weights summing to 1."""
    A = np.transpose(verts, (0, 2, 1)).reshape(-1, verts.shape[1])
    return np.vstack([A, np.full((1, A.shape[1]), SUM_WEIGHT)])


def design_target(points: np.ndarray) -> np.ndarray:
    """(N,3) target points -> (3N+1,) right-hand side matching ``design_matrix``."""
    return np.concatenate([points.reshape(-1), [SUM_WEIGHT]])


def nnls_convex(verts: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Convex weights w (P,) (w >= 0, sum 1) minimising sum_n ||w . verts[n] - target[n]||^2.

    verts: (N,P,3) candidate points per shape, target: (N,3), metres.
    """
    from scipy.optimize import nnls

    w, _ = nnls(design_matrix(verts), design_target(target), maxiter=50 * verts.shape[1])
    return w / w.sum()


def fit_regressor_nnls(verts: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(J,V) non-negative regressor, rows summing to 1, by NNLS over all vertices.

    verts (N,V,3), joints (N,J,3): T-posed training shapes and anny's joints [m]. Restricting
    each joint's support to vertices within 4-20 cm was tried and is worse (spine joints
    15-48 mm mean held out instead of 2-14 mm): the spine heads lie outside the convex hull
    of nearby surface points, so NNLS over all vertices is the best non-negative fit.
    """
    from tqdm import tqdm

    joint_ids = tqdm(range(joints.shape[1]), desc="J_regressor (NNLS)", unit="joint")
    return np.stack([nnls_convex(verts, joints[:, j]) for j in joint_ids])


def fit_regressor_signed(verts: np.ndarray, joints: np.ndarray, n_val: int,
                         ridges=(1e-8, 1e-7, 1e-6, 1e-5)) -> tuple[np.ndarray, float]:
    """(J,V) signed regressor (rows sum to 1) by ridge least squares, ridge picked on the last
    ``n_val`` shapes. Solved in the dual (3N+1 unknowns) since V >> 3N.
    Returns the regressor and the relative ridge used."""
    def solve(A, K, B, ridge):
        lam = ridge * np.trace(K) / len(K)
        return (A.T @ np.linalg.solve(K + lam * np.eye(len(K)), B)).T

    fit = slice(0, len(verts) - n_val)
    A = design_matrix(verts[fit])
    K = A @ A.T
    B = np.stack([design_target(joints[fit, j]) for j in range(joints.shape[1])], 1)
    errors = [regressor_errors(solve(A, K, B, r), verts[fit.stop:], joints[fit.stop:]).mean()
              for r in ridges]
    ridge = ridges[int(np.argmin(errors))]
    A = design_matrix(verts)
    K = A @ A.T
    B = np.stack([design_target(joints[:, j]) for j in range(joints.shape[1])], 1)
    R = solve(A, K, B, ridge)
    return R / R.sum(1, keepdims=True), ridge


def regressor_errors(R: np.ndarray, verts: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(N,J) distances [m] between R @ verts (R (J,V) applied in float32) and joints (N,J,3)."""
    pred = np.einsum("jv,nvc->njc", R.astype(np.float32).astype(np.float64),
                     verts.astype(np.float32).astype(np.float64))
    return np.linalg.norm(pred - joints, axis=-1)


def bone_weights(model) -> np.ndarray:
    """(V,n_bones) dense LBS weights of an anny model (anny stores up to 9 per vertex)."""
    import torch

    W = torch.zeros(model.template_vertices.shape[0], len(model.bone_labels), dtype=torch.float64)
    W.scatter_add_(1, model.vertex_bone_indices.long(), model.vertex_bone_weights.double())
    return W.numpy()


def merged_weights(model, bone_joint: np.ndarray, n_joints: int) -> np.ndarray:
    """(V,n_joints) LBS weights: anny's per-bone weights summed over each joint's bones.
    bone_joint: (n_bones,) joint of each bone."""
    merge = np.zeros((len(bone_joint), n_joints))
    merge[np.arange(len(bone_joint)), bone_joint] = 1.0
    out = bone_weights(model) @ merge
    return out / out.sum(1, keepdims=True)


def coco_regressor(rig: AnnyRig, ref: AnnyRig, phenotypes: np.ndarray, verts: np.ndarray,
                   offset: np.ndarray) -> tuple[np.ndarray, dict]:
    """(23,V) COCO regressor on ``rig``'s mesh, in COCO_NAMES order.

    Rows are anny's ``keypoints/coco.pth`` weights re-indexed by ``base_mesh_vertex_indices``;
    REFIT_KEYPOINTS (mostly on eyeball vertices absent here) are refitted by NNLS against
    anny's own keypoints on the ``ref`` (default, with-eyes) topology for ``phenotypes``,
    whose rest head equals the T-posed head. verts: (N,V,3) T-posed shapes, SMPL frame.
    Returns the regressor and per-refitted-keypoint errors [m] (mean, max) on those shapes.
    """
    import torch
    from anny.paths import get_anny_root_dir

    data = torch.load(get_anny_root_dir() / "data" / "keypoints" / "coco.pth", weights_only=True)
    assert set(data) == set(COCO_NAMES), sorted(data)
    idx = rig.model.base_mesh_vertex_indices.numpy()
    reg = np.stack([data[name].double().numpy()[idx] for name in COCO_NAMES])
    with torch.no_grad():
        ref_rest = ref.model(phenotype_kwargs=torch.as_tensor(phenotypes))["rest_vertices"].numpy()
    ref_idx = ref.model.base_mesh_vertex_indices.numpy()
    stats = {}
    for name in REFIT_KEYPOINTS:
        k = COCO_NAMES.index(name)
        target = to_smpl_frame(np.einsum("v,nvc->nc", data[name].double().numpy()[ref_idx],
                                         ref_rest), offset)
        dist = np.linalg.norm(verts.mean(0) - target.mean(0), axis=1)
        near = np.flatnonzero(dist < 0.03)
        w = nnls_convex(verts[:, near], target)
        reg[k] = 0.0
        reg[k, near] = w
        err = np.linalg.norm(np.einsum("p,npc->nc", w, verts[:, near]) - target, axis=-1)
        stats[name] = (float(err.mean()), float(err.max()))
    return reg / reg.sum(1, keepdims=True), stats


# ----------------------------------------------------------------------------- numpy LBS


def numpy_lbs(model: dict, betas, global_orient, body_pose,
              parents=SMPL_PARENTS) -> tuple[np.ndarray, np.ndarray]:
    """Plain SMPL/MANO-style LBS (no pose correctives) on a model dict in SMPL's layout.

    betas (B,K'), K' <= K; global_orient (B,3); body_pose (B,3(J-1)) axis-angle [rad];
    parents (J,) the kinematic tree. Returns vertices (B,V,3), joints (B,J,3) [m], transl 0.
    """
    sd = model["shapedirs"][..., : betas.shape[1]].astype(np.float64)
    v = model["v_template"].astype(np.float64) + np.einsum("vck,bk->bvc", sd, betas)
    J = np.einsum("jv,bvc->bjc", model["J_regressor"].astype(np.float64), v)
    G = global_rotations(global_orient, body_pose, parents)
    Jp = [J[:, 0]]
    for j in range(1, len(parents)):
        p = parents[j]
        Jp.append(Jp[p] + np.einsum("bij,bj->bi", G[:, p], J[:, j] - J[:, p]))
    Jp = np.stack(Jp, 1)
    t = Jp - np.einsum("bjik,bjk->bji", G, J)
    W = model["weights"].astype(np.float64)
    T = np.einsum("vj,bjik->bvik", W, G)
    verts = np.einsum("bvik,bvk->bvi", T, v) + np.einsum("vj,bji->bvi", W, t)
    return verts, Jp


# ----------------------------------------------------------------------------- hand

HAND_RIG, HAND_TOPOLOGY = "anny-hand.R", "hand.R"
# MANO's finger order and the anny finger behind each (finger1 = thumb ... finger5 = pinky).
MANO_FINGERS = (("index", "finger2"), ("middle", "finger3"), ("pinky", "finger5"),
                ("ring", "finger4"), ("thumb", "finger1"))
MANO_JOINT_NAMES = ("wrist",) + tuple(f"{name}{k}" for name, _ in MANO_FINGERS for k in (1, 2, 3))
MANO_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)
FINGERTIP_ORDER = ("thumb", "index", "middle", "ring", "pinky")


def hand_bone_to_joint(bone_labels: list[str]) -> np.ndarray:
    """(n_bones,) MANO joint of each anny hand bone: root, wrist and metacarpals -> wrist;
    anny 'fingerN-k.R' -> MANO '<finger>k'."""
    anny_to_mano = {anny_name: mano for mano, anny_name in MANO_FINGERS}
    out = []
    for label in bone_labels:
        base, _ = split_side(label)
        if base.startswith("finger"):
            finger, k = base.split("-")
            out.append(MANO_JOINT_NAMES.index(f"{anny_to_mano[finger]}{k}"))
        elif base in ("root", "wrist") or base.startswith("metacarpal"):
            out.append(0)
        else:
            raise KeyError(f"anny hand bone {label!r} has no MANO joint")
    return np.asarray(out)


def hand_joint_bones(bone_labels: list[str]) -> np.ndarray:
    """(16,) index of the anny bone whose head is each MANO joint."""
    anny_names = ["wrist"] + [f"{finger}-{k}" for _, finger in MANO_FINGERS for k in (1, 2, 3)]
    return np.array([bone_labels.index(name + ".R") for name in anny_names])


def hand_frames(body: AnnyRig, phenotypes: np.ndarray) -> np.ndarray:
    """(B,3,3) rotations from anny's frame to the open hand's frame: the right hand as it lies
    at the end of the body's T-posed right arm (fingers along -X, SMPL axes)."""
    import torch

    with torch.no_grad():
        rest = body.model(pose_parameters=None, phenotype_kwargs=torch.as_tensor(phenotypes))
    A = tpose_rotations(body, rest["rest_bone_poses"][:, :, :3, 3].numpy())
    return ANNY_TO_SMPL @ A[:, body.labels.index("wrist.R")]


def run_anny_hand(hand, phenotypes: np.ndarray, frames: np.ndarray, world_rotations=None):
    """Anny's hand model in its rest pose, optionally with MANO joint rotations.

    frames: (B,3,3) from ``hand_frames``; world_rotations: None or (B,16,3,3) world
    rotations of MANO's joints in the hand frame, applied about anny's own bone heads.
    Returns 'vertices' (B,V,3), 'rest_vertices' (B,V,3), 'joints' (B,16,3): hand frame,
    metres, wrist head at the origin.
    """
    import torch

    phen = torch.as_tensor(phenotypes, dtype=hand.model.dtype)
    with torch.no_grad():
        rest = hand.model(pose_parameters=None, phenotype_kwargs=phen)
        D = rest["rest_bone_poses"].numpy().copy()
        wrist = D[:, 0, :3, 3].copy()
        if world_rotations is not None:
            G = np.swapaxes(frames, 1, 2)[:, None] @ world_rotations[:, hand.bone_joint] \
                @ frames[:, None]
            D[:, :, :3, :3] = G @ D[:, :, :3, :3]
        posed = hand.model(pose_parameters=torch.as_tensor(D), phenotype_kwargs=phen)

    def to_hand(x):
        return np.einsum("bij,bvj->bvi", frames, x - wrist[:, None])

    heads = posed["bone_poses"][..., :3, 3].numpy()[:, hand.joint_bones]
    return {"vertices": to_hand(posed["vertices"].numpy()),
            "rest_vertices": to_hand(rest["rest_vertices"].numpy()), "joints": to_hand(heads)}


def fingertip_vertices(verts: np.ndarray, joints: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(5,) fingertip vertex ids in FINGERTIP_ORDER: among the vertices skinned mostly to a
    finger's last joint, the one furthest along that phalanx. verts (V,3), joints (16,3),
    weights (V,16) of the mean hand."""
    owner = weights.argmax(1)
    ids = []
    for name in FINGERTIP_ORDER:
        j2, j3 = MANO_JOINT_NAMES.index(f"{name}2"), MANO_JOINT_NAMES.index(f"{name}3")
        cand = np.flatnonzero(owner == j3)
        ids.append(cand[np.argmax((verts[cand] - joints[j3]) @ (joints[j3] - joints[j2]))])
    return np.asarray(ids, dtype=np.int64)


def build_hand(body: AnnyRig, train: np.ndarray, test: np.ndarray, args) -> dict:
    """Open right hand in MANO's layout from anny's hand model; returns the npz dict.

    train/test: (N,6) phenotypes for the shape space / held-out statistics.
    """
    from types import SimpleNamespace

    model = load_anny_model(HAND_RIG, HAND_TOPOLOGY)
    labels = list(model.bone_labels)
    hand = SimpleNamespace(model=model, bone_joint=hand_bone_to_joint(labels),
                           joint_bones=hand_joint_bones(labels))
    phen = np.concatenate([train, test])
    out = run_anny_hand(hand, phen, hand_frames(body, phen))
    verts, joints = out["rest_vertices"], out["joints"]
    tr, te = slice(0, len(train)), slice(len(train), None)
    space = fit_pca(verts[tr], args.hand_betas, size_axis=0)
    J_reg = np.stack([nnls_convex(verts[tr], joints[tr, j]) for j in range(len(MANO_PARENTS))])
    weights = merged_weights(model, hand.bone_joint, len(MANO_PARENTS))
    mano = {
        **lbs_arrays(space, J_reg, weights, MANO_PARENTS, model.faces.numpy()),
        "hands_components": np.eye(45, dtype=np.float32),
        "hands_mean": np.zeros(45, np.float32),
        "joint_names": np.array(MANO_JOINT_NAMES),
        "shape_std": space.std.astype(np.float32),
        "explained_variance_ratio": space.evr.astype(np.float32),
    }
    mano["fingertip_vertex_ids"] = fingertip_vertices(space.mean, J_reg @ space.mean, weights)
    # held-out statistics: shape space, regressor, posed reproduction of anny
    rng = np.random.default_rng(args.seed + 4)
    n = min(len(test), 8)
    go, hp = rng.normal(0.0, 0.3, (n, 3)), rng.normal(0.0, 0.3, (n, 45))
    posed = run_anny_hand(hand, test[:n], hand_frames(body, test[:n]),
                          global_rotations(go, hp, MANO_PARENTS))
    betas = space.project(verts[te][:n])
    mine, _ = numpy_lbs(mano, betas, go, hp, MANO_PARENTS)
    pose_err = np.linalg.norm(mine - posed["vertices"], axis=-1)
    j_err = regressor_errors(J_reg, verts[te], joints[te])
    pca_err = space.heldout_error(verts[te])
    stats = {
        "pca_cumulative_explained_variance": {str(k): float(space.evr_all[k - 1])
                                              for k in (1, 5, args.hand_betas)},
        "pca_heldout_error_m": {"mean": float(pca_err.mean()), "max": float(pca_err.max())},
        "joint_regressor_heldout_error_m": {"mean": float(j_err.mean()), "max": float(j_err.max())},
        "posed_vs_anny_m": {"mean": float(pose_err.mean()), "max": float(pose_err.max())},
    }
    mano["metadata"] = np.array(json.dumps({
        "source": f"anny {ANNY_VERSION}", "copyright": "Anny, Copyright (C) 2025 NAVER Corporation",
        "licence": "Apache-2.0 (anny); CC0 (MakeHuman/MPFB2 assets)",
        "rig": HAND_RIG, "topology": HAND_TOPOLOGY, "samples": len(train), "seed": args.seed,
        "frame": "metres; right hand as at the end of the T-posed body's right arm (SMPL axes, "
                 "fingers along -X); anny's wrist bone head at the origin",
        "pose": "anny's rest finger pose; hands_components = identity (no hand pose data), "
                "hands_mean = 0; no pose correctives (posedirs omitted)",
        "fingertips": "fingertip_vertex_ids in order " + ",".join(FINGERTIP_ORDER),
        "stats": stats,
    }))
    return mano


# ----------------------------------------------------------------------------- build


def random_poses(rng: np.random.Generator, n: int, std: float = 0.3):
    """(n,3), (n,69) random SMPL axis-angles; feet (10,11) and hands (22,23) left at zero
    because anny turns each toe/finger about its own knuckle, SMPL about one joint."""
    go = rng.normal(0.0, 0.6, (n, 3))
    bp = rng.normal(0.0, std, (n, 23, 3))
    bp[:, [9, 10, 21, 22]] = 0.0
    return go, bp.reshape(n, 69)


def build(args) -> None:
    """Run the whole build; writes the model npz and the test fixture."""
    t0 = time.time()
    rig, ref = load_anny(TOPOLOGY), load_anny(REFERENCE_TOPOLOGY)
    n_test = max(args.samples // 6, 50)
    phen = sample_adult_phenotypes(rig, args.samples + n_test, args.seed)
    verts_a, joints_a = tposed_dataset(rig, phen, args.batch, "T-posing anny samples")
    offset = (joints_a[: args.samples, 0] @ ANNY_TO_SMPL.T).mean(0)
    verts, joints = to_smpl_frame(verts_a, offset), to_smpl_frame(joints_a, offset)
    del verts_a, joints_a
    tr, te = slice(0, args.samples), slice(args.samples, None)

    space = fit_pca(verts[tr], args.num_betas)
    pca_err = space.heldout_error(verts[te])
    pca_err10 = space.truncated(10).heldout_error(verts[te])

    weights = merged_weights(rig.model, rig.bone_joint, len(JOINT_NAMES))
    if args.regressor == "nnls":
        J_reg, ridge = fit_regressor_nnls(verts[tr], joints[tr]), 0.0
    else:
        J_reg, ridge = fit_regressor_signed(verts[tr], joints[tr], n_val=n_test)
    j_err = regressor_errors(J_reg, verts[te], joints[te])

    coco, coco_stats = coco_regressor(rig, ref, phen[tr][:300], verts[tr][:300], offset)
    faces = rig.model.faces.numpy().astype(np.int64)

    model = {
        **lbs_arrays(space, J_reg, weights, SMPL_PARENTS, faces),
        "coco_regressor": coco.astype(np.float32),
        "coco_names": np.array(COCO_NAMES),
        "joint_names": np.array(JOINT_NAMES),
        "shape_std": space.std.astype(np.float32),
        "explained_variance_ratio": space.evr.astype(np.float32),
    }
    fixture, repro = build_fixture(rig, model, space, offset, args)
    stats = {
        "pca_cumulative_explained_variance": {str(k): float(space.evr_all[k - 1])
                                              for k in (1, 5, 10, 16, args.num_betas)},
        "pca_heldout_error_m": {"k10_mean": float(pca_err10.mean()),
                                "k10_max": float(pca_err10.max()),
                                f"k{args.num_betas}_mean": float(pca_err.mean()),
                                f"k{args.num_betas}_max": float(pca_err.max())},
        "joint_regressor_heldout_error_m": {
            "mean": float(j_err.mean()), "max": float(j_err.max()),
            "per_joint_mean": dict(zip(JOINT_NAMES, map(float, j_err.mean(0)), strict=True)),
            "per_joint_max": dict(zip(JOINT_NAMES, map(float, j_err.max(0)), strict=True)),
            "method": args.regressor, "ridge": ridge,
            "min_weight": float(J_reg.min()), "max_row_l1": float(np.abs(J_reg).sum(1).max())},
        "coco_refit_error_m": coco_stats,
        "reproduction_vs_anny_m": repro,
        "heldout_samples": n_test,
    }
    model["metadata"] = np.array(json.dumps({
        "source": f"anny {ANNY_VERSION}", "copyright": "Anny, Copyright (C) 2025 NAVER Corporation",
        "licence": "Apache-2.0 (anny); CC0 (MakeHuman/MPFB2 assets)",
        "topology": TOPOLOGY, "samples": args.samples, "seed": args.seed,
        "shape_distribution": "anny.shape_distribution.SimpleShapeDistribution, "
                              "morphological age U(18,80), gender U(0,1)",
        "pose": "T-pose (arms along +-X), no pose correctives (posedirs are zero, omitted)",
        "frame": "metres; Y up, facing +Z, body's left at +X; mean pelvis at origin",
        "stats": stats,
    }))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    np.savez_compressed(args.out, **model)
    os.makedirs(os.path.dirname(os.path.abspath(args.fixture_out)), exist_ok=True)
    np.savez_compressed(args.fixture_out, **fixture)
    if args.hand_out:
        hand = build_hand(rig, phen[tr], phen[te], args)
        np.savez_compressed(args.hand_out, **hand)
        print("hand:", json.loads(str(hand["metadata"]))["stats"])
    print(json.dumps(stats, indent=1))
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB) and {args.fixture_out} "
          f"({os.path.getsize(args.fixture_out) / 1e3:.0f} kB) in {time.time() - t0:.0f} s")


def build_fixture(rig: AnnyRig, model: dict, space: ShapeSpace, offset: np.ndarray, args):
    """Anny's own outputs for fresh shapes (T-pose and posed) + the model's reproduction error.

    Returns (fixture dict, stats dict of mean/max vertex errors [m] of ``numpy_lbs``).
    """
    rng = np.random.default_rng(args.seed + 1)
    n_t, n_p = args.fixture_tpose, args.fixture_posed
    phen = sample_adult_phenotypes(rig, n_t + n_p, args.seed + 1)
    go, bp = random_poses(rng, n_p)
    go = np.concatenate([np.zeros((n_t, 3)), go])
    bp = np.concatenate([np.zeros((n_t, 69)), bp])
    out = run_anny(rig, phen, global_rotations(go, bp))
    betas = space.project(to_smpl_frame(out["tpose_vertices"], offset))
    verts = to_smpl_frame(out["vertices"], offset)
    joints = to_smpl_frame(np.einsum("jb,nbk->njk", rig.joint_heads, out["heads"]), offset)
    mine, _ = numpy_lbs(model, betas, go, bp)
    err = np.linalg.norm(mine - verts, axis=-1)
    mine10, _ = numpy_lbs(model, betas[:, :10], go, bp)
    err10 = np.linalg.norm(mine10 - verts, axis=-1)
    # extra (not stored): the same poses with feet and hands turned too
    go2, bp2 = random_poses(np.random.default_rng(args.seed + 2), n_p)
    bp2 = bp2.reshape(n_p, 23, 3)
    bp2[:, [9, 10, 21, 22]] = np.random.default_rng(args.seed + 3).normal(0, 0.3, (n_p, 4, 3))
    bp2 = bp2.reshape(n_p, 69)
    full = run_anny(rig, phen[n_t:], global_rotations(go2, bp2))
    err_full = np.linalg.norm(numpy_lbs(model, betas[n_t:], go2, bp2)[0]
                              - to_smpl_frame(full["vertices"], offset), axis=-1)
    tp, ps = slice(0, n_t), slice(n_t, None)
    stats = {
        "tpose_mean": float(err[tp].mean()), "tpose_max": float(err[tp].max()),
        "posed_mean": float(err[ps].mean()), "posed_max": float(err[ps].max()),
        "posed_per_case_mean": [float(e) for e in err[ps].mean(1)],
        "tpose_10betas_mean": float(err10[tp].mean()),
        "posed_10betas_mean": float(err10[ps].mean()),
        "posed_with_feet_hands_mean": float(err_full.mean()),
        "posed_with_feet_hands_max": float(err_full.max()),
    }
    ids = np.sort(rng.choice(verts.shape[1], args.fixture_vertices, replace=False)).astype(np.int64)
    fixture = {
        "vertex_ids": ids, "vertices": verts[:, ids].astype(np.float32),
        "joints": joints.astype(np.float32), "betas": betas.astype(np.float32),
        "global_orient": go.astype(np.float32), "body_pose": bp.astype(np.float32),
        "transl": np.zeros((n_t + n_p, 3), np.float32), "posed": np.arange(n_t + n_p) >= n_t,
        "phenotypes": phen.astype(np.float32),
        "mean_error_m": err.mean(1).astype(np.float32),
        "max_mean_error_m": (1.5 * err.mean(1) + 2e-4).astype(np.float32),
    }
    return fixture, stats


def parse_args(argv=None):
    """Command-line options."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.join(root, "assets", "models", "open_body.npz"))
    p.add_argument("--fixture-out",
                   default=os.path.join(root, "tests", "data", "open_body_reference.npz"))
    p.add_argument("--hand-out",
                   default=os.path.join(root, "assets", "models", "open_hand_right.npz"),
                   help="open right hand in MANO's layout ('' to skip)")
    p.add_argument("--hand-betas", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=1200, help="training shapes for PCA/regressor")
    p.add_argument("--num-betas", type=int, default=16)
    p.add_argument("--batch", type=int, default=50, help="anny batch size")
    p.add_argument("--fixture-tpose", type=int, default=6)
    p.add_argument("--fixture-posed", type=int, default=4)
    p.add_argument("--fixture-vertices", type=int, default=1000)
    p.add_argument("--regressor", choices=("nnls", "signed"), default="nnls",
                   help="nnls: non-negative rows (SMPL-like, the contract); signed: ridge least "
                        "squares, ~50x more accurate but with negative weights")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    return p.parse_args(argv)


def main(argv=None) -> None:
    """Entry point."""
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    build(args)


if __name__ == "__main__":
    main()
