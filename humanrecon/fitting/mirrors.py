"""The depth ambiguity of a limb: swung towards or away from the camera, it projects to
(nearly) the same pixels.

For a limb ``a -> b -> c`` (shoulder, elbow, wrist or hip, knee, ankle), mirroring a bone
``d`` across the plane perpendicular to the viewing ray at ``a`` (``d' = d - 2 (d·n) n``)
keeps its image under weak perspective. Three alternatives per limb: the upper bone
mirrored (the lower bone keeps its direction), the lower bone mirrored, both. Each is made
by the smallest rotation that takes the bone to its mirror, applied to the joint's global
rotation and written back as local axis-angles in the parents' frames (SMPL's
``body_pose`` layout). The fitter scores them with its loss and keeps what the loss and
the prior prefer.
"""

from __future__ import annotations

import torch

from humanrecon.body.keypoints import SMPL_JOINT_NAMES
from humanrecon.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

#: the limbs searched, as SMPL joint names (root of the limb, middle, end)
LIMBS = tuple(tuple(f"{side}_{part}" for part in parts) for parts in (("shoulder", "elbow", "wrist"),
                                                                       ("hip", "knee", "ankle"))
              for side in ("left", "right"))
#: (mirror the upper bone, mirror the lower bone) for the three alternatives of a limb
ALTERNATIVES = ((True, False), (False, True), (True, True))


def global_rotations(global_orient: torch.Tensor, body_pose: torch.Tensor, parents) -> torch.Tensor:
    """World rotations ``(B, J, 3, 3)`` of every joint from ``global_orient (B, 3)`` and
    ``body_pose (B, 3 (J - 1))`` (local axis-angles), ``parents`` the kinematic tree."""
    local = axis_angle_to_matrix(torch.cat([global_orient, body_pose], 1).reshape(-1, 3)) \
        .reshape(global_orient.shape[0], -1, 3, 3)
    world = [local[:, 0]]
    for j in range(1, local.shape[1]):
        world.append(world[int(parents[j])] @ local[:, j])
    return torch.stack(world, 1)


def minimal_rotation(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The smallest rotations ``(B, 3, 3)`` taking directions ``u (B, 3)`` to ``v (B, 3)``
    (any length); opposite directions turn about an axis perpendicular to ``u``."""
    u = u / u.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    v = v / v.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    axis = torch.linalg.cross(u, v)
    sin, cos = axis.norm(dim=-1, keepdim=True), (u * v).sum(-1, keepdim=True)
    helper = torch.where(u[:, :1].abs() < 0.9, torch.tensor([1.0, 0.0, 0.0], dtype=u.dtype),
                         torch.tensor([0.0, 1.0, 0.0], dtype=u.dtype))
    fallback = torch.linalg.cross(u, helper)
    axis = torch.where(sin > 1e-6, axis / sin.clamp(min=1e-12), fallback / fallback.norm(dim=-1, keepdim=True))
    return axis_angle_to_matrix(axis * torch.atan2(sin, cos))


def mirror(d: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """``d (B, 3)`` mirrored across the plane perpendicular to the unit vector ``n (B, 3)``."""
    return d - 2.0 * (d * n).sum(-1, keepdim=True) * n


def limb_alternatives(global_orient: torch.Tensor, body_pose: torch.Tensor, joints: torch.Tensor, parents,
                      limb: tuple[int, int, int], view: torch.Tensor) -> list[torch.Tensor]:
    """The three mirrored ``body_pose (B, P)`` of one limb (:data:`ALTERNATIVES` order).

    Args:
        global_orient ``(B, 3)``, body_pose ``(B, P)``: the current fit (model frame).
        joints: ``(B, J, 3)`` its posed skeleton joints (model frame, metres).
        parents: kinematic tree; limb: joint indices ``(a, b, c)`` (b's parent is a, c's is b).
        view: ``(B, 3)`` unit viewing direction at joint ``a`` in the model frame (from the
            camera centre towards the joint).
    """
    a, b, c = limb
    world = global_rotations(global_orient, body_pose, parents)
    parent_a = world[:, int(parents[a])]
    upper, lower = joints[:, b] - joints[:, a], joints[:, c] - joints[:, b]
    out = []
    for flip_upper, flip_lower in ALTERNATIVES:
        q1 = minimal_rotation(upper, mirror(upper, view)) if flip_upper else \
            torch.eye(3, dtype=upper.dtype).expand(upper.shape[0], 3, 3)
        new_a = q1 @ world[:, a]
        turned_lower = (q1 @ lower[..., None])[..., 0]
        q2 = minimal_rotation(turned_lower, mirror(lower, view) if flip_lower else lower)
        new_b = q2 @ q1 @ world[:, b]
        pose = body_pose.clone()
        pose[:, 3 * (a - 1): 3 * a] = matrix_to_axis_angle(parent_a.transpose(1, 2) @ new_a)
        pose[:, 3 * (b - 1): 3 * b] = matrix_to_axis_angle(new_a.transpose(1, 2) @ new_b)
        out.append(pose)
    return out


def limb_indices(joint_names: tuple[str, ...] = SMPL_JOINT_NAMES) -> list[tuple[int, int, int]]:
    """:data:`LIMBS` as joint indices of ``joint_names``."""
    return [tuple(joint_names.index(name) for name in limb) for limb in LIMBS]

