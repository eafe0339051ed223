"""Linear blend skinning for SMPL-family models, as pure functions on tensors.

Shapes: ``B`` batch, ``V`` vertices, ``J`` skeleton joints, ``K`` shape components,
``P = 9 (J - 1)`` pose-corrective features. Lengths are metres; the model frame is the
one of the template (for SMPL: Y up, facing +Z). The maths follows SMPL (Loper et al.
2015) and gives the same numbers as ``smplx.lbs`` (to float32 round-off), but is
arranged for speed: joints are regressed from the (few) joint-space blend shapes instead
of the full mesh, the kinematic chain is walked one tree level at a time, and skinning is
one matrix product with the ``(V, J)`` weights shared by the whole batch.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import torch

from humanrecon.errors import InputError
from humanrecon.geometry.rotations import axis_angle_to_matrix


def blend_shapes(betas: torch.Tensor, shape_dirs: torch.Tensor) -> torch.Tensor:
    """Per-vertex offsets of linear blend shapes.

    Args:
        betas: ``(B, K)`` coefficients.
        shape_dirs: ``(V, 3, K)`` blend-shape basis (metres per unit coefficient).
    Returns:
        ``(B, V, 3)`` offsets, ``sum_k betas[b, k] * shape_dirs[v, :, k]``.
    """
    num_v = shape_dirs.shape[0]
    flat = shape_dirs.reshape(num_v * 3, shape_dirs.shape[-1])  # (3V, K)
    return (betas @ flat.T).reshape(betas.shape[0], num_v, 3)


def vertices2joints(J_regressor: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
    """Regress joints from vertices: ``(J, V)`` × ``(B, V, 3)`` -> ``(B, J, 3)``."""
    return torch.einsum("jv,bvc->bjc", J_regressor, vertices)


@lru_cache(maxsize=64)
def _tree_schedule(parents: tuple[int, ...]) -> tuple[tuple[tuple[tuple[int, ...], tuple[int, ...]], ...], tuple[int, ...]]:
    """Plan the walk down a kinematic tree one depth level at a time.

    Returns ``(levels, inverse)``: ``levels[d]`` = (joint indices at depth d + 1, the
    positions of their parents in the concatenation of all earlier levels), and
    ``inverse`` maps that level-major concatenation back to joint order.
    """
    if not parents or parents[0] >= 0:
        raise InputError(f"parents[0] must be negative (the root), got {parents[:1]}")
    depth = [0] * len(parents)
    for j in range(1, len(parents)):
        p = parents[j]
        if not 0 <= p < j:
            raise InputError(f"joint {j} has parent {p}: parents must precede their children")
        depth[j] = depth[p] + 1
    order = [0]
    levels = []
    for d in range(1, max(depth) + 1):
        joints = tuple(j for j in range(len(parents)) if depth[j] == d)
        levels.append((joints, tuple(order.index(parents[j]) for j in joints)))
        order.extend(joints)
    inverse = [0] * len(parents)
    for position, joint in enumerate(order):
        inverse[joint] = position
    return tuple(levels), tuple(inverse)


def _parents_tuple(parents: torch.Tensor | Sequence[int]) -> tuple[int, ...]:
    if isinstance(parents, torch.Tensor):
        parents = parents.tolist()
    out = tuple(int(p) for p in parents)
    return (-1,) + out[1:] if out else out


def batch_rigid_transform(
    rot_mats: torch.Tensor, joints: torch.Tensor, parents: torch.Tensor | Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pose a skeleton: chain local joint rotations along the kinematic tree.

    Args:
        rot_mats: ``(B, J, 3, 3)`` local rotation of each joint relative to its parent
            (index 0: global orientation).
        joints: ``(B, J, 3)`` rest-pose joint locations.
        parents: ``(J,)`` parent index of each joint, ``parents[0]`` the root (any
            negative value); parents precede children.
    Returns:
        posed_joints: ``(B, J, 3)`` joint locations after posing.
        rel_transforms: ``(B, J, 4, 4)`` transforms that map a rest-pose point to its
            posed location if it moved rigidly with joint ``j`` (``[R_j | t_j - R_j J_j]``),
            the matrices blended by skinning.
    """
    parents_t = _parents_tuple(parents)
    levels, inverse = _tree_schedule(parents_t)
    parent_idx = list(parents_t[1:])
    rel_joints = torch.cat([joints[:, :1], joints[:, 1:] - joints[:, parent_idx]], dim=1)
    # Global rotation/translation of each joint, built level by level (level-major order).
    glob_r, glob_t = rot_mats[:, :1], rel_joints[:, :1]
    for level_joints, parent_pos in levels:
        idx = list(level_joints)
        pr, pt = glob_r[:, list(parent_pos)], glob_t[:, list(parent_pos)]
        r = pr @ rot_mats[:, idx]
        t = (pr @ rel_joints[:, idx, :, None])[..., 0] + pt
        glob_r = torch.cat([glob_r, r], dim=1)
        glob_t = torch.cat([glob_t, t], dim=1)
    inv = list(inverse)
    rot, posed_joints = glob_r[:, inv], glob_t[:, inv]

    trans = posed_joints - (rot @ joints[..., None])[..., 0]
    top = torch.cat([rot, trans[..., None]], dim=-1)  # (B, J, 3, 4)
    bottom = torch.zeros_like(top[..., :1, :])
    bottom[..., 0, 3] = 1.0
    return posed_joints, torch.cat([top, bottom], dim=-2)


def skin_vertices(
    lbs_weights: torch.Tensor, rel_transforms: torch.Tensor, v_posed: torch.Tensor
) -> torch.Tensor:
    """Linear blend skinning of rest-pose vertices.

    Args:
        lbs_weights: ``(V, J)`` skinning weights (rows sum to 1), shared by the batch.
        rel_transforms: ``(B, J, 4, 4)`` from :func:`batch_rigid_transform`.
        v_posed: ``(B, V, 3)`` rest-pose vertices (with shape and pose correctives).
    Returns:
        ``(B, V, 3)`` skinned vertices.
    """
    points = v_posed.permute(1, 2, 0)  # (V, 3, B)
    return _skin_vertex_major(lbs_weights, rel_transforms, points).permute(2, 0, 1).contiguous()


#: vertices skinned per block when no gradient is needed: the block's blended transforms
#: (512 x 12 B floats) stay in cache between the GEMM that makes them and their use
_SKIN_BLOCK = 512


def _skin_vertex_major(lbs_weights: torch.Tensor, rel_transforms: torch.Tensor,
                       points: torch.Tensor) -> torch.Tensor:
    """Skinning in vertex-major layout: ``points (V, 3, B)`` -> ``(V, 3, B)``.

    One GEMM blends the joint transforms of the whole batch, ``(V, J) @ (J, 12 B)``, into
    per-vertex ``3 x 4`` matrices laid out ``(V, 3, 4, B)``; applying them is then three
    fused multiply-adds over contiguous batch rows (much faster than ``V B`` tiny
    matrix products). Without autograd and for batches of 8 or more it runs in vertex
    blocks that stay in cache."""
    batch, num_j = rel_transforms.shape[:2]
    num_v = lbs_weights.shape[0]
    blend = rel_transforms[:, :, :3, :].permute(1, 2, 3, 0).reshape(num_j, 12 * batch)
    needs_grad = torch.is_grad_enabled() and any(
        t.requires_grad for t in (lbs_weights, rel_transforms, points))
    if needs_grad or num_v <= _SKIN_BLOCK or batch < 8:
        per_vertex = (lbs_weights @ blend).view(num_v, 3, 4, batch)
        out = torch.addcmul(per_vertex[:, :, 3], per_vertex[:, :, 0], points[:, None, 0])
        out = out.addcmul(per_vertex[:, :, 1], points[:, None, 1])
        return out.addcmul(per_vertex[:, :, 2], points[:, None, 2])
    out = points.new_empty(num_v, 3, batch)
    for start in range(0, num_v, _SKIN_BLOCK):
        stop = min(start + _SKIN_BLOCK, num_v)
        per_vertex = (lbs_weights[start:stop] @ blend).view(stop - start, 3, 4, batch)
        block, target = points[start:stop], out[start:stop]
        torch.addcmul(per_vertex[:, :, 3], per_vertex[:, :, 0], block[:, None, 0], out=target)
        target.addcmul_(per_vertex[:, :, 1], block[:, None, 1]).addcmul_(per_vertex[:, :, 2], block[:, None, 2])
    return out


def pose_features(rot_mats: torch.Tensor) -> torch.Tensor:
    """Pose-corrective features ``vec(R_j - I)`` for the non-root joints:
    ``(B, J, 3, 3)`` -> ``(B, 9 (J - 1))``."""
    eye = torch.eye(3, dtype=rot_mats.dtype, device=rot_mats.device)
    return (rot_mats[:, 1:] - eye).reshape(rot_mats.shape[0], -1)


def lbs(
    betas: torch.Tensor,
    pose: torch.Tensor,
    v_template: torch.Tensor,
    shapedirs: torch.Tensor,
    posedirs: torch.Tensor | None,
    J_regressor: torch.Tensor,
    parents: torch.Tensor | Sequence[int],
    lbs_weights: torch.Tensor,
    pose2rot: bool = True,
    joint_template: torch.Tensor | None = None,
    joint_shapedirs: torch.Tensor | None = None,
    vertex_major: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shape, pose and skin a body model (SMPL's forward function).

    Args:
        betas: ``(B, K)`` shape (and expression) coefficients.
        pose: ``(B, J * 3)`` axis-angle per joint (root first), or ``(B, J, 3, 3)``
            rotation matrices when ``pose2rot=False``.
        v_template: ``(V, 3)`` rest-pose template vertices (metres).
        shapedirs: ``(V, 3, K)`` shape blend shapes.
        posedirs: ``(P, 3V)`` pose correctives with ``P = 9 (J - 1)``, or None when the
            model has none (the product is skipped).
        J_regressor: ``(J, V)`` joint regressor.
        parents: ``(J,)`` kinematic tree.
        lbs_weights: ``(V, J)`` skinning weights.
        joint_template, joint_shapedirs: optional precomputed ``J_regressor @ v_template``
            ``(J, 3)`` and ``J_regressor @ shapedirs`` ``(J, 3, K)``; they make joint
            regression independent of ``V``.
        vertex_major: return vertices as ``(V, 3, B)``, the layout the computation runs in
            (``.permute(2, 0, 1)`` gives ``(B, V, 3)``); saves a copy for callers that add
            something anyway.
    Returns:
        vertices ``(B, V, 3)`` (or ``(V, 3, B)``) and posed skeleton joints ``(B, J, 3)``,
        in the model frame.
    """
    batch = max(betas.shape[0], pose.shape[0])
    if betas.shape[0] != batch:
        betas = betas.expand(batch, -1)
    num_v = v_template.shape[0]
    # template + shape blend shapes (+ pose correctives), accumulated GEMMs on (3V, B)
    points = torch.addmm(v_template.reshape(num_v * 3, 1), shapedirs.reshape(num_v * 3, shapedirs.shape[-1]), betas.T)
    if joint_template is not None and joint_shapedirs is not None:
        joints = joint_template + blend_shapes(betas, joint_shapedirs)
    else:
        joints = torch.einsum("jv,vcb->bjc", J_regressor, points.view(num_v, 3, batch))

    if pose2rot:
        rot_mats = axis_angle_to_matrix(pose.reshape(batch, -1, 3))
    else:
        rot_mats = pose.reshape(batch, -1, 3, 3)
    if posedirs is not None:
        points = torch.addmm(points, posedirs.T, pose_features(rot_mats).T)
    posed_joints, rel_transforms = batch_rigid_transform(rot_mats, joints, parents)
    verts = _skin_vertex_major(lbs_weights, rel_transforms, points.view(num_v, 3, batch))
    return (verts if vertex_major else verts.permute(2, 0, 1).contiguous()), posed_joints


def rest_skeleton(model, betas: torch.Tensor | None = None, count: int | None = None) -> torch.Tensor:
    """Rest joints ``(J, 3)`` (metres) of ``model``'s first ``count`` joints (default all)
    for one shape ``betas (K,)`` (None: the mean shape), from its joint regressor folded
    into the shape space (``joint_template + joint_shapedirs · β``)."""
    count = count or model.joint_template.shape[0]
    rest = model.joint_template[:count].float()
    if betas is None:
        return rest
    return rest + model.joint_shapedirs[:count, :, : betas.shape[0]].float() @ betas.float()


def skeleton_joints(model, rot_mats: torch.Tensor, betas: torch.Tensor | None = None) -> torch.Tensor:
    """Posed joints ``(B, J, 3)`` of ``model``'s skeleton for local rotations ``rot_mats
    (B, J, 3, 3)`` (its first J joints; index 0 the root) and one shape ``betas (K,)``,
    without skinning a vertex (what skeleton fits need). No translation: the root joint
    stays at its rest position."""
    count = rot_mats.shape[1]
    rest = rest_skeleton(model, betas, count).expand(rot_mats.shape[0], -1, -1)
    posed, _ = batch_rigid_transform(rot_mats, rest, model.parents[:count].tolist())
    return posed
