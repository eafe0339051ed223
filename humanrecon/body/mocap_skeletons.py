"""Which joint of a motion-capture rig is which body joint: one table per rig (torch-free,
so the command line can list them). Used by :mod:`humanrecon.body.retarget`."""

from __future__ import annotations

from dataclasses import dataclass, field

from humanrecon.errors import InputError, PoseFileError


@dataclass(frozen=True)
class Skeleton:
    """How one mocap rig's joints correspond to the body's.

    ``joints``: body joint name → mocap joint name; ``weights``: body joint name → weight
    of its position term (default 1; lower where the rigs place a joint differently,
    e.g. the head's pivot at the skull base); ``drop_first``: the first frame is a
    T-pose, not motion; ``signature``: mocap joint names that identify the rig."""

    name: str
    joints: dict[str, str]
    weights: dict[str, float] = field(default_factory=dict)
    drop_first: bool = False
    signature: tuple[str, ...] = ()


def _sides(pairs: dict[str, str], left: str, right: str) -> dict[str, str]:
    """Expand ``"side_knee": "<s>Shin"`` entries into the left and right joints."""
    out = {}
    for body, mocap in pairs.items():
        if body.startswith("side_"):
            out["left_" + body[5:]] = mocap.replace("<s>", left)
            out["right_" + body[5:]] = mocap.replace("<s>", right)
        else:
            out[body] = mocap
    return out


#: every rig :func:`retarget` knows, by name
SKELETONS: dict[str, Skeleton] = {
    "daz": Skeleton("daz", _sides({
        "side_hip": "<s>Thigh", "side_knee": "<s>Shin", "side_ankle": "<s>Foot", "spine1": "abdomen",
        "spine3": "chest", "neck": "neck", "head": "head", "side_collar": "<s>Collar", "side_shoulder": "<s>Shldr",
        "side_elbow": "<s>ForeArm", "side_wrist": "<s>Hand", "side_hand": "<s>Mid1"}, "l", "r"),
        weights={"spine1": 0.3, "spine3": 0.3, "head": 0.3, "left_collar": 0.3, "right_collar": 0.3,
                 "left_hand": 0.3, "right_hand": 0.3},
        drop_first=True, signature=("hip", "abdomen", "lThigh", "rShin")),
    "cmu": Skeleton("cmu", _sides({
        "side_hip": "<s>femur", "side_knee": "<s>tibia", "side_ankle": "<s>foot", "side_foot": "<s>toes",
        "spine1": "lowerback", "spine3": "thorax", "neck": "upperneck", "head": "head",
        "side_collar": "<s>clavicle", "side_shoulder": "<s>humerus", "side_elbow": "<s>radius",
        "side_wrist": "<s>wrist", "side_hand": "<s>hand"}, "l", "r"),
        weights={"spine1": 0.3, "spine3": 0.3, "head": 0.3, "left_collar": 0.3, "right_collar": 0.3,
                 "left_foot": 0.3, "right_foot": 0.3, "left_hand": 0.3, "right_hand": 0.3},
        signature=("lfemur", "rtibia", "lowerback")),
    "cc": Skeleton("cc", _sides({
        "side_hip": "CC_Base_<s>_Thigh", "side_knee": "CC_Base_<s>_Calf", "side_ankle": "CC_Base_<s>_Foot",
        "side_foot": "CC_Base_<s>_ToeBase", "spine1": "CC_Base_Waist", "spine2": "CC_Base_Spine01",
        "spine3": "CC_Base_Spine02", "neck": "CC_Base_NeckTwist01", "head": "CC_Base_Head",
        "side_collar": "CC_Base_<s>_Clavicle", "side_shoulder": "CC_Base_<s>_Upperarm",
        "side_elbow": "CC_Base_<s>_Forearm", "side_wrist": "CC_Base_<s>_Hand", "side_hand": "CC_Base_<s>_Mid1"},
        "L", "R"),
        weights={"spine1": 0.3, "spine2": 0.3, "spine3": 0.3, "head": 0.3, "left_collar": 0.3, "right_collar": 0.3,
                 "left_foot": 0.3, "right_foot": 0.3, "left_hand": 0.3, "right_hand": 0.3},
        signature=("CC_Base_Hip", "CC_Base_L_Thigh")),
    # SMPL's own joint names (a BVH exported from an SMPL-family body, e.g. by
    # :func:`humanrecon.body.retarget.body_to_bvh`): every body joint maps to itself
    "smpl": Skeleton("smpl", {n: n for n in (
        "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
        "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist")},
        signature=("pelvis", "left_hip", "left_knee", "spine1")),
}


def skeleton_for(bvh, name: str = "auto") -> Skeleton:
    """The :class:`Skeleton` called ``name``, or (``auto``) the one whose signature
    joints the file has; :class:`PoseFileError` naming the file when none fits."""
    if name != "auto":
        if name not in SKELETONS:
            raise InputError(f"unknown skeleton {name!r}: choose auto or one of {', '.join(SKELETONS)}")
        skeleton = SKELETONS[name]
    else:
        found = [s for s in SKELETONS.values() if all(j in bvh.names for j in s.signature)]
        if not found:
            raise PoseFileError(f"{bvh.path}: a skeleton this importer does not know (joints "
                                f"{', '.join(bvh.names[:6])}, ...); known: {', '.join(SKELETONS)}")
        skeleton = found[0]
    missing = [m for m in skeleton.joints.values() if m not in bvh.names]
    if missing:
        raise PoseFileError(f"{bvh.path}: the {skeleton.name} skeleton needs joints {', '.join(missing)}, which the "
                            "file lacks")
    return skeleton
