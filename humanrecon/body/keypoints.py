"""Joint names and 2D-detector keypoint maps (OpenPose BODY_25, COCO-17, OpenPose hand)
for every body model.

A :class:`KeypointMap` turns a :class:`~humanrecon.body.model.BodyOutput` into the
keypoints a detector reports: each keypoint is a fixed linear combination of the model's
output joints (skeleton joints and smplx's vertex-picked extras) plus, where the model
ships one, a vertex regressor (the open body's COCO regressor from anny). The fitters
compare these against detections.

For official SMPL/SMPL+H/SMPL-X topologies the maps follow SMPLify-X
(``smpl_to_openpose``): hips and pelvis are the model's own joints, face and feet are
smplx's vertex picks. For the open body, all 17 COCO points and the feet come from
anny's surface regressor, OpenPose's neck is the mid-shoulder point and MidHip the
mid-hip point, which is closer to what detectors annotate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from humanrecon.errors import InputError

SMPL_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)
#: MANO's 15 hand joints after the wrist (smplx order: index, middle, pinky, ring, thumb)
HAND_JOINT_NAMES = tuple(f"{finger}{i}" for finger in ("index", "middle", "pinky", "ring", "thumb")
                         for i in (1, 2, 3))
MANO_JOINT_NAMES = ("wrist",) + HAND_JOINT_NAMES
SMPLH_JOINT_NAMES = SMPL_JOINT_NAMES[:22] + tuple(f"left_{n}" for n in HAND_JOINT_NAMES) \
    + tuple(f"right_{n}" for n in HAND_JOINT_NAMES)
SMPLX_JOINT_NAMES = SMPL_JOINT_NAMES[:22] + ("jaw", "left_eye_smplhf", "right_eye_smplhf") \
    + SMPLH_JOINT_NAMES[22:]

BODY25_NAMES = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe",
    "right_heel",
)
COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
#: OpenPose hand: wrist, then 4 points per finger from the palm out to the tip
HAND21_NAMES = ("wrist",) + tuple(f"{finger}{i}" for finger in ("thumb", "index", "middle", "ring", "pinky")
                                  for i in (1, 2, 3, 4))
#: skeleton edges for drawing, as pairs of keypoint names
BODY25_EDGES = (
    ("nose", "neck"), ("neck", "right_shoulder"), ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"), ("neck", "left_shoulder"), ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"), ("neck", "mid_hip"), ("mid_hip", "right_hip"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"), ("mid_hip", "left_hip"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("nose", "right_eye"),
    ("right_eye", "right_ear"), ("nose", "left_eye"), ("left_eye", "left_ear"),
    ("left_ankle", "left_big_toe"), ("left_big_toe", "left_small_toe"), ("left_ankle", "left_heel"),
    ("right_ankle", "right_big_toe"), ("right_big_toe", "right_small_toe"),
    ("right_ankle", "right_heel"),
)
#: BODY_25 left/right keypoint chains a detector confuses as a whole: the arms and the
#: legs beyond the torso (shoulders and hips stay: a swap of those is the whole person
#: seen front-to-back, which the fitter's start orientations cover)
BODY25_LIMB_PAIRS = (
    (("left_elbow", "left_wrist"), ("right_elbow", "right_wrist")),
    (("left_knee", "left_ankle", "left_big_toe", "left_small_toe", "left_heel"),
     ("right_knee", "right_ankle", "right_big_toe", "right_small_toe", "right_heel")),
)
FORMATS = {"body25": BODY25_NAMES, "coco17": COCO17_NAMES, "hand21": HAND21_NAMES}
#: keypoints that are averages of two others (OpenPose's neck and mid-hip)
_MIDPOINTS = {"neck": ("left_shoulder", "right_shoulder"), "mid_hip": ("left_hip", "right_hip")}
#: official-topology fingertip vertex ids for MANO (from smplx.vertex_ids['mano'])
_HAND_TIP_ORDER = ("thumb", "index", "middle", "ring", "pinky")


def skeleton_joint_names(model_type: str, num_joints: int) -> tuple[str, ...]:
    """Names of the ``num_joints`` skeleton joints of a model type, in kinematic order."""
    names = {"smpl": SMPL_JOINT_NAMES, "smplh": SMPLH_JOINT_NAMES, "smplx": SMPLX_JOINT_NAMES,
             "mano": MANO_JOINT_NAMES}[model_type]
    if len(names) != num_joints:
        raise InputError(f"{model_type} has {len(names)} named joints, model has {num_joints}")
    return names


@dataclass
class KeypointMap:
    """Linear map from a body model's output to detector keypoints.

    Attributes:
        format: ``"body25"``, ``"coco17"`` or ``"hand21"``.
        names: ``K`` keypoint names in the format's order.
        joint_weights: ``(K, J')`` weights over the model's output joints.
        vertex_weights: ``(K, V)`` weights over the mesh vertices, or None.
        available: ``(K,)`` bool, False for keypoints the model cannot produce (their
            rows are zero; fitters must ignore them).
    """

    format: str
    names: tuple[str, ...]
    joint_weights: torch.Tensor
    vertex_weights: torch.Tensor | None
    available: torch.Tensor

    def __call__(self, output) -> torch.Tensor:
        """Keypoints ``(B, K, 3)`` (metres, model/world frame) of a ``BodyOutput``."""
        w = self.joint_weights.to(output.joints)
        points = torch.einsum("kj,bjc->bkc", w, output.joints)
        if self.vertex_weights is not None:
            points = points + torch.einsum("kv,bvc->bkc", self.vertex_weights.to(output.vertices),
                                           output.vertices)
        return points

    def fold_extras(self, model) -> "KeypointMap":
        """The same keypoints from the ``J`` skeleton joints and the vertices only: the
        weights on the model's extra output joints (vertex picks, regressed joints,
        landmarks) are folded into vertex weights through
        :meth:`BodyModel.extra_joint_matrix`. ``joint_weights`` becomes ``(K, J)``,
        ``vertex_weights`` ``(K, V)``."""
        num_j = model.num_joints
        surface = self.joint_weights[:, num_j:] @ model.extra_joint_matrix().to(self.joint_weights)
        if self.vertex_weights is not None:
            surface = surface + self.vertex_weights
        return replace(self, joint_weights=self.joint_weights[:, :num_j], vertex_weights=surface)

    def restrict(self, vertex_ids: torch.Tensor) -> "KeypointMap":
        """The map for a partial forward pass ``model(..., vertex_ids=vertex_ids)``, whose
        output holds vertices ``(B, S, 3)`` in ascending id order and the ``J`` skeleton
        joints only: keeps the vertex weights of those vertices. Call it on a map whose
        extras are folded (:meth:`fold_extras`); keypoints with weight on other vertices
        change, so pass every vertex with a non-zero weight."""
        if self.vertex_weights is None:
            return self
        ids = torch.unique(torch.as_tensor(vertex_ids, dtype=torch.long))
        return replace(self, vertex_weights=self.vertex_weights[:, ids])

    @property
    def edges(self) -> list[tuple[int, int]]:
        """Skeleton edges as index pairs between available keypoints (for drawing)."""
        index = {n: i for i, n in enumerate(self.names)}
        pairs = BODY25_EDGES if self.format != "hand21" else _hand_edges()
        ok = self.available.tolist()
        return [(index[a], index[b]) for a, b in pairs
                if a in index and b in index and ok[index[a]] and ok[index[b]]]


def _hand_edges() -> tuple[tuple[str, str], ...]:
    edges = []
    for finger in _HAND_TIP_ORDER:
        chain = ["wrist"] + [f"{finger}{i}" for i in (1, 2, 3, 4)]
        edges += list(zip(chain[:-1], chain[1:]))
    return tuple(edges)


def keypoint_map(model, fmt: str = "body25") -> KeypointMap:
    """Build the :class:`KeypointMap` of ``model`` (a :class:`BodyModel`) for a detector
    format: ``"body25"`` (OpenPose BODY_25), ``"coco17"`` (COCO) or ``"hand21"``
    (OpenPose hand, for MANO-type models).

    Each keypoint comes, in order of preference, from the model's surface regressor
    (``model.surface_names``/``surface_regressor``: the open body's COCO regressor, MANO
    fingertip vertices), from an output joint of the same name, or, for OpenPose's neck
    and mid-hip, from the midpoint of the surface shoulders/hips or else SMPL's neck and
    pelvis joints (as SMPLify-X does)."""
    fmt = fmt.lower().replace("_", "").replace("-", "")
    if fmt not in FORMATS:
        raise InputError(f"unknown keypoint format '{fmt}' (expected one of {', '.join(FORMATS)})")
    if (fmt == "hand21") != (model.model_type == "mano"):
        raise InputError(f"keypoint format '{fmt}' does not apply to a {model.model_type.upper()} model")
    names = FORMATS[fmt]
    joint_index = {n: i for i, n in enumerate(model.joint_names)}
    surface = dict(zip(model.surface_names, model.surface_regressor.cpu())) if model.surface_names else {}
    joint_w = torch.zeros(len(names), len(model.joint_names))
    vert_w = torch.zeros(len(names), model.v_template.shape[0])
    available = torch.zeros(len(names), dtype=torch.bool)
    for row, name in enumerate(names):
        halves = _MIDPOINTS.get(name, ())
        if name in surface:
            vert_w[row] = surface[name]
        elif halves and all(h in surface for h in halves):
            vert_w[row] = 0.5 * (surface[halves[0]] + surface[halves[1]])
        elif _SMPL_SUBSTITUTES.get(name, name) in joint_index:
            joint_w[row, joint_index[_SMPL_SUBSTITUTES.get(name, name)]] = 1.0
        else:
            continue
        available[row] = True
    device = model.v_template.device
    return KeypointMap(fmt, names, joint_w.to(device),
                       vert_w.to(device) if surface else None, available.to(device))


#: SMPLify-X's choice for official topologies: OpenPose's neck is SMPL's neck joint and
#: MidHip the pelvis; shoulders/elbows/wrists/hips/knees/ankles are the model's joints.
_SMPL_SUBSTITUTES = {"neck": "neck", "mid_hip": "pelvis"}
