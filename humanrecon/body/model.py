"""``BodyModel``: SMPL, SMPL+H, SMPL-X and MANO (and the open default body) as one module.

A body model is a template mesh ``v_template (V, 3)`` in metres (SMPL frame: Y up, the
body facing +Z, its left side at +X), shape blend shapes, optional pose correctives, a
joint regressor, a kinematic tree and linear blend skinning weights. Parameters and
outputs use smplx's names and conventions, so code written for ``smplx`` ports by
changing the constructor::

    model = BodyModel.load("open")                 # or "path/to/SMPL_NEUTRAL.pkl"
    out = model(betas=betas, body_pose=body_pose, global_orient=go, transl=transl)
    out.vertices  # (B, V, 3) metres
    out.joints    # (B, J', 3): skeleton joints, then smplx's extra keypoints
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from humanrecon.errors import InputError
from humanrecon.body.lbs import lbs, vertices2joints
from humanrecon.body.io import ModelFileError, load_model_arrays, resolve_model_path

#: skeleton joints per model type, and the pose blocks (name, joints) after the root
MODEL_JOINTS = {"smpl": 24, "smplh": 52, "smplx": 55, "mano": 16}
POSE_BLOCKS = {
    "smpl": (("body_pose", 23),),
    "smplh": (("body_pose", 21), ("left_hand_pose", 15), ("right_hand_pose", 15)),
    "smplx": (("body_pose", 21), ("jaw_pose", 1), ("leye_pose", 1), ("reye_pose", 1),
              ("left_hand_pose", 15), ("right_hand_pose", 15)),
    "mano": (("hand_pose", 15),),
}
#: vertex counts of the official topologies (smplx's extra keypoints are vertex picks on them)
OFFICIAL_VERTEX_COUNT = {"smpl": 6890, "smplh": 6890, "smplx": 10475, "mano": 778}
#: smplx's extra keypoints after the skeleton joints, in smplx's order: (key in
#: ``smplx.vertex_ids``, joint name as in ``smplx.joint_names``)
EXTRA_FACE = (("nose", "nose"), ("reye", "right_eye"), ("leye", "left_eye"),
              ("rear", "right_ear"), ("lear", "left_ear"))
EXTRA_FEET = (("LBigToe", "left_big_toe"), ("LSmallToe", "left_small_toe"), ("LHeel", "left_heel"),
              ("RBigToe", "right_big_toe"), ("RSmallToe", "right_small_toe"), ("RHeel", "right_heel"))
EXTRA_TIPS = tuple((side[0] + tip, f"{side}_{tip}") for side in ("left", "right")
                   for tip in ("thumb", "index", "middle", "ring", "pinky"))
_REQUIRED_KEYS = ("v_template", "shapedirs", "J_regressor", "weights", "kintree_table", "f")
_HAND_KEYS = {
    "smplh": ("hands_componentsl", "hands_componentsr", "hands_meanl", "hands_meanr"),
    "smplx": ("hands_componentsl", "hands_componentsr", "hands_meanl", "hands_meanr"),
    "mano": ("hands_components", "hands_mean"),
}
#: names `BodyModel.load` resolves to shipped files


@dataclass
class BodyOutput:
    """Result of a body model forward pass (all in the model frame, metres).

    Attributes:
        vertices: ``(B, V, 3)`` posed mesh vertices (translation applied).
        joints: ``(B, J', 3)``: the ``J`` skeleton joints first (same order as the
            kinematic tree), then the model's extra keypoints exactly as smplx returns
            them (face and feet vertex picks, fingertips, SMPL-X face landmarks).
        full_pose: ``(B, J * 3)`` axis-angle of every joint, root first (hand means
            added), or ``(B, J, 3, 3)`` matrices when posed with ``pose2rot=False``.
        betas: ``(B, K)`` shape coefficients used.
    """

    vertices: torch.Tensor
    joints: torch.Tensor
    full_pose: torch.Tensor
    betas: torch.Tensor


def _as_float_array(arrays: Mapping[str, Any], key: str, source: str) -> np.ndarray:
    value = arrays.get(key)
    if value is None:
        raise ModelFileError(f"{source}: model file has no '{key}' array")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{source}: '{key}' is not numeric ({exc})") from exc
    if not np.isfinite(array).all():
        raise ModelFileError(f"{source}: '{key}' contains NaN or infinite values")
    return array


def _identity_hand_components(arrays: Mapping[str, Any], model_type: str) -> bool:
    """True when a file's hand "PCA" is the identity (no pose data behind it)."""
    keys = _HAND_KEYS.get(model_type, ())
    comps = [np.asarray(arrays[k]) for k in keys if "components" in k and arrays.get(k) is not None]
    return bool(comps) and all(c.shape == (45, 45) and np.allclose(c, np.eye(45)) for c in comps)


def detect_model_type(arrays: Mapping[str, Any], source: str = "model") -> str:
    """Model type (``smpl``/``smplh``/``smplx``/``mano``) from the number of joints in
    ``kintree_table``."""
    kintree = arrays.get("kintree_table")
    if kintree is None:
        raise ModelFileError(f"{source}: model file has no 'kintree_table' array")
    num_joints = int(np.asarray(kintree).shape[-1])
    for name, count in MODEL_JOINTS.items():
        if count == num_joints:
            return name
    raise ModelFileError(
        f"{source}: unknown model type: kintree_table has {num_joints} joints "
        f"(expected {', '.join(f'{k.upper()} {v}' for k, v in MODEL_JOINTS.items())})"
    )


class BodyModel(nn.Module):
    """An SMPL-family body model (SMPL, SMPL+H, SMPL-X, MANO, or the open body).

    Build with :meth:`load`. The module holds only buffers (no trainable parameters):
    pass shape and pose to :meth:`forward`. Buffers live on the module's device; inputs
    must be on the same device and are cast to the module's dtype (float32 default).

    Attributes:
        model_type: ``"smpl"``, ``"smplh"``, ``"smplx"`` or ``"mano"``.
        name: ``"open"`` for the shipped open body, otherwise the file name.
        num_betas, num_expression_coeffs: sizes of ``betas`` / ``expression``.
        num_joints: skeleton joints ``J``; ``joint_names`` names all ``J'`` output joints.
        faces: ``(F, 3)`` int64 numpy array (``faces_tensor``: the same as a buffer).
        is_rhand: for MANO, whether it is a right hand.
    """

    def __init__(
        self,
        arrays: Mapping[str, Any],
        *,
        model_type: str | None = None,
        num_betas: int = 10,
        num_expression_coeffs: int = 10,
        use_pca: bool | None = None,
        num_pca_comps: int = 6,
        flat_hand_mean: bool = False,
        is_rhand: bool | None = None,
        dtype: torch.dtype = torch.float32,
        source: str = "model",
        name: str | None = None,
    ) -> None:
        super().__init__()
        detected = detect_model_type(arrays, source)
        if model_type is not None:
            model_type = model_type.lower().replace("+", "").replace("-", "")
            if model_type not in MODEL_JOINTS:
                raise InputError(f"unknown model type '{model_type}' (expected one of {', '.join(MODEL_JOINTS)})")
            if model_type != detected:
                raise ModelFileError(
                    f"{source}: model_type '{model_type}' expects {MODEL_JOINTS[model_type]} joints "
                    f"but the file has {MODEL_JOINTS[detected]} ({detected.upper()})"
                )
        self.model_type = detected
        self.source = source
        self.name = name or Path(source).name
        if use_pca is None:  # smplx's default, unless the file's "PCA" is no PCA at all
            use_pca = detected in _HAND_KEYS and not _identity_hand_components(arrays, detected)
        self.use_pca = use_pca if detected in _HAND_KEYS else False
        self.flat_hand_mean = flat_hand_mean
        self.is_rhand = (is_rhand if is_rhand is not None else "LEFT" not in Path(source).name.upper()) \
            if detected == "mano" else None
        self._build(arrays, num_betas, num_expression_coeffs, num_pca_comps, dtype)

    # ------------------------------------------------------------------ construction
    def _build(self, arrays: Mapping[str, Any], num_betas: int, num_expr: int, num_pca: int,
               dtype: torch.dtype) -> None:
        src = self.source
        for key in _REQUIRED_KEYS + _HAND_KEYS.get(self.model_type, ()):
            if arrays.get(key) is None:
                raise ModelFileError(f"{src}: {self.model_type.upper()} model file has no '{key}' array")
        v_template = _as_float_array(arrays, "v_template", src)
        if v_template.ndim != 2 or v_template.shape[1] != 3:
            raise ModelFileError(f"{src}: 'v_template' must be (V, 3), got {v_template.shape}")
        num_v, num_j = v_template.shape[0], MODEL_JOINTS[self.model_type]
        shapedirs = _as_float_array(arrays, "shapedirs", src)
        if shapedirs.ndim == 2:
            shapedirs = shapedirs[:, :, None]
        expected = {
            "shapedirs": ((num_v, 3), shapedirs.shape[:2]),
            "weights": ((num_v, num_j), _as_float_array(arrays, "weights", src).shape),
            "J_regressor": ((num_j, num_v), _as_float_array(arrays, "J_regressor", src).shape),
        }
        for key, (want, got) in expected.items():
            if tuple(got) != want:
                raise ModelFileError(f"{src}: '{key}' must have shape {want}, got {tuple(got)}")
        faces = np.asarray(arrays["f"]).astype(np.int64)
        if faces.ndim != 2 or faces.shape[1] != 3 or faces.min() < 0 or faces.max() >= num_v:
            raise ModelFileError(f"{src}: 'f' must be (F, 3) vertex indices below {num_v}")

        betas_dirs, expr_dirs = self._split_shape_space(shapedirs, num_betas, num_expr)
        self.num_betas = betas_dirs.shape[-1]
        self.num_expression_coeffs = expr_dirs.shape[-1] if expr_dirs is not None else 0
        shape_basis = betas_dirs if expr_dirs is None else np.concatenate([betas_dirs, expr_dirs], -1)

        to_t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=dtype)
        j_reg = _as_float_array(arrays, "J_regressor", src)
        self.register_buffer("v_template", to_t(v_template))
        self.register_buffer("shapedirs", to_t(shape_basis))
        self.register_buffer("J_regressor", to_t(j_reg))
        self.register_buffer("lbs_weights", to_t(arrays["weights"]))
        self.register_buffer("joint_template", to_t(j_reg @ v_template))
        self.register_buffer("joint_shapedirs", to_t(np.einsum("jv,vck->jck", j_reg, shape_basis)))
        parents = np.asarray(arrays["kintree_table"])[0].astype(np.int64)
        parents[0] = -1
        bad = [j for j in range(1, len(parents)) if not 0 <= parents[j] < j]
        if bad:
            raise ModelFileError(f"{src}: kintree_table is not a tree in joint order: joint {bad[0]} has parent "
                                 f"{parents[bad[0]]} (each parent must be an earlier joint)")
        self.register_buffer("parents", torch.as_tensor(parents))
        self.faces = faces
        self.register_buffer("faces_tensor", torch.as_tensor(faces))
        self.num_joints = num_j
        self._build_posedirs(arrays, num_v, num_j, to_t)
        self._build_hands(arrays, num_pca, to_t)
        self._build_extra_joints(arrays, num_v, to_t)

    def _split_shape_space(self, shapedirs: np.ndarray, num_betas: int, num_expr: int):
        """Split the blend shapes into body shape and (SMPL-X) expression, as smplx does:
        SMPL-X files with ≥ 400 columns hold 300 shape + 100 expression components,
        older ones 10 + 10."""
        if num_betas < 0 or num_expr < 0:
            raise InputError("num_betas and num_expression_coeffs must be non-negative")
        if self.model_type != "smplx":
            return shapedirs[:, :, : min(num_betas, shapedirs.shape[-1])], None
        shape_dim, expr_dim = (300, 100) if shapedirs.shape[-1] >= 400 else (10, 10)
        betas_dirs = shapedirs[:, :, : min(num_betas, shape_dim)]
        expr_dirs = shapedirs[:, :, shape_dim: shape_dim + min(num_expr, expr_dim)]
        return betas_dirs, expr_dirs

    def _build_posedirs(self, arrays, num_v, num_j, to_t) -> None:
        posedirs = arrays.get("posedirs")
        num_feat = 9 * (num_j - 1)
        self.register_buffer("posedirs", None)
        if posedirs is None:
            return
        posedirs = _as_float_array(arrays, "posedirs", self.source)
        if posedirs.shape != (num_v, 3, num_feat):
            raise ModelFileError(f"{self.source}: 'posedirs' must have shape {(num_v, 3, num_feat)}, "
                                 f"got {posedirs.shape}")
        if not posedirs.any():
            return  # all zero: no correctives, skip the product
        self.register_buffer("posedirs", to_t(posedirs.reshape(-1, num_feat).T))

    def _build_hands(self, arrays, num_pca, to_t) -> None:
        """Hand PCA components and means (SMPL+H, SMPL-X, MANO)."""
        self.num_pca_comps = 0
        keys = _HAND_KEYS.get(self.model_type)
        pose_mean = np.zeros(3 * self.num_joints)
        if keys is None:
            self.register_buffer("pose_mean", to_t(pose_mean))
            return
        if self.model_type == "mano":
            comps = {"hand": arrays["hands_components"]}
            means = {"hand": arrays["hands_mean"]}
        else:
            comps = {"left": arrays["hands_componentsl"], "right": arrays["hands_componentsr"]}
            means = {"left": arrays["hands_meanl"], "right": arrays["hands_meanr"]}
        if self.use_pca:
            if not 1 <= num_pca <= 45:
                raise InputError(f"num_pca_comps must be in 1..45, got {num_pca}")
            self.num_pca_comps = num_pca
            for side, c in comps.items():
                c = np.asarray(c, dtype=np.float64)
                if c.shape != (45, 45) and c.shape[1:] != (45,):
                    raise ModelFileError(f"{self.source}: hand components must be (N, 45), got {c.shape}")
                self.register_buffer(f"{side}_hand_components", to_t(c[:num_pca]))
        offset = 3 * (self.num_joints - (15 if self.model_type == "mano" else 30))
        for i, side in enumerate(means):
            mean = np.zeros(45) if self.flat_hand_mean else np.asarray(means[side], dtype=np.float64).reshape(45)
            pose_mean[offset + 45 * i: offset + 45 * (i + 1)] = mean
        self.register_buffer("pose_mean", to_t(pose_mean))

    def _build_extra_joints(self, arrays, num_v, to_t) -> None:
        """smplx's extra output joints (vertex picks on official topologies, the COCO
        regressor's face/feet points on the open body, SMPL-X face landmarks) and the
        surface keypoints used by :mod:`humanrecon.body.keypoints`."""
        from humanrecon.body.keypoints import skeleton_joint_names

        names = list(skeleton_joint_names(self.model_type, self.num_joints))
        for optional in ("extra_vertex_ids", "extra_regressor", "lmk_faces_idx", "lmk_bary_coords",
                         "surface_regressor"):
            self.register_buffer(optional, None)
        self.surface_names: tuple[str, ...] = ()
        if "coco_regressor" in arrays and "coco_names" in arrays:
            surface_names = [str(n) for n in np.asarray(arrays["coco_names"]).tolist()]
            regressor = _as_float_array(arrays, "coco_regressor", self.source)
            if regressor.shape != (len(surface_names), num_v):
                raise ModelFileError(f"{self.source}: 'coco_regressor' must have shape "
                                     f"{(len(surface_names), num_v)}, got {regressor.shape}")
            extra = EXTRA_FACE + EXTRA_FEET
            missing = [name for _, name in extra if name not in surface_names]
            if missing:
                raise ModelFileError(f"{self.source}: coco_names lacks {missing}")
            rows = [surface_names.index(name) for _, name in extra]
            self.register_buffer("extra_regressor", to_t(regressor[rows]))
            names += [name for _, name in extra]
            self._set_surface(surface_names, regressor, to_t)
        elif self.model_type != "mano" and num_v == OFFICIAL_VERTEX_COUNT[self.model_type]:
            from smplx.vertex_ids import vertex_ids as smplx_vertex_ids

            table = smplx_vertex_ids["smplx" if self.model_type == "smplx" else "smplh"]
            extra = EXTRA_FACE + EXTRA_FEET + EXTRA_TIPS
            self.register_buffer("extra_vertex_ids", torch.tensor([table[key] for key, _ in extra]))
            names += [name for _, name in extra]
        if self.model_type == "mano":
            self._set_mano_tips(arrays, num_v, to_t)
        if self.model_type == "smplx" and "lmk_faces_idx" in arrays and "lmk_bary_coords" in arrays:
            lmk_faces = np.asarray(arrays["lmk_faces_idx"]).astype(np.int64).reshape(-1)
            bary = _as_float_array(arrays, "lmk_bary_coords", self.source).reshape(-1, 3)
            self.register_buffer("lmk_faces_idx", torch.as_tensor(lmk_faces))
            self.register_buffer("lmk_bary_coords", to_t(bary))
            names += [f"face_landmark_{i}" for i in range(len(lmk_faces))]
        self.joint_names = tuple(names)

    def _set_surface(self, names: list[str], regressor: np.ndarray, to_t) -> None:
        self.surface_names = tuple(names)
        self.register_buffer("surface_regressor", to_t(regressor))

    def _set_mano_tips(self, arrays, num_v, to_t) -> None:
        """Fingertip vertices of a hand (``fingertip_vertex_ids`` in the file, thumb to
        pinky, or smplx's picks on the official 778-vertex MANO) as surface keypoints."""
        tips = arrays.get("fingertip_vertex_ids")
        if tips is None and num_v == OFFICIAL_VERTEX_COUNT["mano"]:
            from smplx.vertex_ids import vertex_ids as smplx_vertex_ids

            tips = [smplx_vertex_ids["mano"][f] for f in ("thumb", "index", "middle", "ring", "pinky")]
        if tips is None:
            return
        tips = np.asarray(tips, dtype=np.int64).reshape(-1)
        if tips.shape != (5,) or tips.min() < 0 or tips.max() >= num_v:
            raise ModelFileError(f"{self.source}: 'fingertip_vertex_ids' must be 5 vertex indices below {num_v}")
        one_hot = np.zeros((5, num_v))
        one_hot[np.arange(5), tips] = 1.0
        self._set_surface([f"{f}4" for f in ("thumb", "index", "middle", "ring", "pinky")], one_hot, to_t)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(
        cls,
        path_or_name: str | Path = "open",
        gender: str = "neutral",
        num_betas: int = 10,
        *,
        model_type: str | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
        **kwargs: Any,
    ) -> "BodyModel":
        """Load a body model.

        Args:
            path_or_name: ``"open"`` (the shipped open body, SMPL layout) or
                ``"open-hand"`` (open right hand, MANO layout), a model file (``.pkl``
                official or ``.npz``), or a folder laid out as for ``smplx.create``
                (``SMPL_NEUTRAL.pkl``, ``smplx/SMPLX_MALE.npz``, ``MANO_RIGHT.pkl``, ...).
            gender: ``"neutral"``, ``"male"`` or ``"female"``: picks the file in a folder.
            num_betas: shape components to use (at most what the file has).
            model_type: ``smpl``/``smplh``/``smplx``/``mano``; detected from the file
                when omitted, checked when given.
            device, dtype: where and in which precision the buffers live.
            **kwargs: ``num_expression_coeffs``, ``use_pca`` (default: True, as in smplx,
                except for files whose hand components are the identity, like the open
                hand), ``num_pca_comps``,
                ``flat_hand_mean``, ``is_rhand`` (smplx's meanings and defaults).
        """
        path, name = resolve_model_path(path_or_name, gender, model_type)
        arrays = load_model_arrays(path)
        model = cls(arrays, model_type=model_type, num_betas=num_betas, dtype=dtype,
                    source=str(path), name=name, **kwargs)
        return model.to(device) if device is not None else model

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        *,
        betas: torch.Tensor | None = None,
        global_orient: torch.Tensor | None = None,
        body_pose: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
        left_hand_pose: torch.Tensor | None = None,
        right_hand_pose: torch.Tensor | None = None,
        hand_pose: torch.Tensor | None = None,
        jaw_pose: torch.Tensor | None = None,
        leye_pose: torch.Tensor | None = None,
        reye_pose: torch.Tensor | None = None,
        expression: torch.Tensor | None = None,
        pose2rot: bool = True,
        vertex_ids: torch.Tensor | None = None,
    ) -> BodyOutput:
        """Pose and shape the model. Any argument left out is zero (rest pose, mean shape).

        Every argument is keyword-only: smplx's classes disagree on the positional order
        (``SMPL(betas, body_pose, global_orient, ...)``, ``SMPLX(betas, global_orient,
        body_pose, ...)``), so a positional call would silently swap poses.

        Args (``B`` = batch; a batch-1 argument is broadcast to ``B``):
            betas: ``(B, num_betas)`` shape in standard deviations.
            global_orient: ``(B, 3)`` root rotation, axis-angle (radians).
            body_pose: ``(B, 69)`` SMPL / ``(B, 63)`` SMPL+H and SMPL-X; MANO: unused.
            transl: ``(B, 3)`` translation in metres, added to vertices and joints.
            left_hand_pose, right_hand_pose: SMPL+H/SMPL-X, ``(B, num_pca_comps)`` with
                ``use_pca`` else ``(B, 45)``; ``hand_pose``: the same for MANO.
            jaw_pose, leye_pose, reye_pose: SMPL-X ``(B, 3)``; expression: SMPL-X
                ``(B, num_expression_coeffs)``.
            pose2rot: if False, every pose argument holds rotation matrices
                ``(B, n, 3, 3)`` (or flattened ``(B, 9n)``) instead of axis-angles, and PCA
                hand poses are not available.
            vertex_ids: compute only these vertices (``(S,)`` indices): ``vertices`` is then
                ``(B, S, 3)``, rows in ascending vertex order, and ``joints`` holds only the
                ``J`` skeleton joints (the extras are :meth:`extra_joint_matrix` @ all
                vertices). Fitters use this to skip the rest of the mesh.
        Returns:
            :class:`BodyOutput` with ``vertices (B, V, 3)`` and ``joints (B, J', 3)``.
        """
        given = {
            "betas": betas, "global_orient": global_orient, "body_pose": body_pose,
            "transl": transl, "left_hand_pose": left_hand_pose,
            "right_hand_pose": right_hand_pose, "hand_pose": hand_pose, "jaw_pose": jaw_pose,
            "leye_pose": leye_pose, "reye_pose": reye_pose, "expression": expression,
        }
        sizes = self.input_sizes(pose2rot)
        for key, value in given.items():
            if value is not None and key not in sizes:
                raise InputError(f"{self.model_type.upper()} model takes no '{key}' "
                                 f"(it takes {', '.join(sizes)})")
        inputs = self._prepare_inputs({k: v for k, v in given.items() if v is not None}, sizes)
        batch = next(iter(inputs.values())).shape[0]

        full_pose = self._full_pose(inputs, batch, pose2rot)
        shape = inputs["betas"]
        if self.num_expression_coeffs:
            shape = torch.cat([shape, inputs["expression"]], dim=-1)
        mesh = self._mesh_buffers(vertex_ids)
        vertices_vcb, joints = lbs(
            shape, full_pose, mesh["v_template"], mesh["shapedirs"], mesh["posedirs"],
            self.J_regressor, self.parents, mesh["lbs_weights"], pose2rot=pose2rot,
            joint_template=self.joint_template, joint_shapedirs=self.joint_shapedirs,
            vertex_major=True,
        )
        offset = inputs["transl"][:, None, :]
        vertices = _add_batch_major(vertices_vcb.permute(2, 0, 1), offset)  # (B, V or S, 3)
        joints = joints + offset
        if vertex_ids is None:
            joints = torch.cat([joints, self._extra_joints(vertices)], dim=1)
        return BodyOutput(vertices=vertices, joints=joints, full_pose=full_pose, betas=inputs["betas"])

    def input_sizes(self, pose2rot: bool = True) -> dict[str, int]:
        """What :meth:`forward` accepts: ``{argument: per-sample size}``, e.g. for SMPL
        ``{"betas": num_betas, "global_orient": 3, "body_pose": 69, "transl": 3}``
        (axis-angles: 3 per joint; with ``pose2rot=False`` rotation matrices: 9 per joint;
        PCA hand poses: ``num_pca_comps``)."""
        per_joint = 3 if pose2rot else 9
        sizes = {"betas": self.num_betas, "global_orient": per_joint}
        for block, joints in POSE_BLOCKS[self.model_type]:
            hand = block.endswith("hand_pose")
            sizes[block] = self.num_pca_comps if (hand and self.use_pca and pose2rot) else per_joint * joints
        if self.model_type == "mano":
            sizes.pop("body_pose", None)
        if self.num_expression_coeffs:
            sizes["expression"] = self.num_expression_coeffs
        sizes["transl"] = 3
        return sizes

    def _prepare_inputs(self, given: dict[str, Any], sizes: dict[str, int]) -> dict[str, torch.Tensor]:
        """Validate shapes and values, flatten to ``(B, n)``, broadcast batch-1 inputs,
        and fill missing arguments with zeros."""
        device, dtype = self.v_template.device, self.v_template.dtype
        flat = {}
        for key, value in given.items():
            tensor = torch.as_tensor(value)
            if tensor.device != device:
                raise InputError(f"{key} is on {tensor.device} but the model is on {device}; "
                                 "move one of them (model.to(device))")
            if not tensor.is_floating_point():
                tensor = tensor.to(dtype)
            if tensor.ndim == 0 or tensor.ndim == 1:
                raise InputError(f"{key} must be batched, shape (B, {sizes[key]}), got {tuple(tensor.shape)}")
            tensor = tensor.reshape(tensor.shape[0], -1)
            if tensor.shape[1] != sizes[key]:
                raise InputError(f"{key} must have shape (B, {sizes[key]}) for this "
                                 f"{self.model_type.upper()} model, got {tuple(value.shape)}")
            if not torch.isfinite(tensor).all():
                raise InputError(f"{key} contains NaN or infinite values")
            flat[key] = tensor.to(dtype)
        batch_sizes = {t.shape[0] for t in flat.values()} - {1}
        if len(batch_sizes) > 1:
            detail = ", ".join(f"{k}: {t.shape[0]}" for k, t in flat.items())
            raise InputError(f"inconsistent batch sizes ({detail})")
        batch = batch_sizes.pop() if batch_sizes else 1
        for key, size in sizes.items():
            if key not in flat:
                flat[key] = torch.zeros(batch, size, device=device, dtype=dtype)
            elif flat[key].shape[0] != batch:
                flat[key] = flat[key].expand(batch, -1)
        return flat

    def _full_pose(self, inputs: dict[str, torch.Tensor], batch: int, pose2rot: bool) -> torch.Tensor:
        """Concatenate the pose blocks in the model's joint order: ``(B, 3J)`` axis-angles
        (hand PCA expanded, hand means added) or ``(B, J, 3, 3)`` matrices."""
        parts = [inputs["global_orient"]]
        for block, _ in POSE_BLOCKS[self.model_type]:
            pose = inputs[block]
            if block.endswith("hand_pose") and self.use_pca and pose2rot:
                side = "hand" if block == "hand_pose" else block.split("_")[0]
                pose = pose @ getattr(self, f"{side}_hand_components")
            parts.append(pose)
        full = torch.cat(parts, dim=1)
        if pose2rot:
            return full + self.pose_mean
        return full.reshape(batch, -1, 3, 3)

    def extra_joint_matrix(self) -> torch.Tensor:
        """``(E, V)`` matrix giving the extra output joints (rows ``J..J'`` of ``joints``) as
        linear combinations of the vertices: regressor rows, one-hot vertex picks and
        barycentric landmark weights."""
        num_v = self.v_template.shape[0]
        rows = [self.v_template.new_zeros(0, num_v)]
        if self.extra_regressor is not None:
            rows.append(self.extra_regressor)
        if self.extra_vertex_ids is not None:
            rows.append(torch.nn.functional.one_hot(self.extra_vertex_ids, num_v).to(self.v_template))
        if self.lmk_faces_idx is not None:
            tri = self.faces_tensor[self.lmk_faces_idx]  # (L, 3)
            landmarks = self.v_template.new_zeros(len(tri), num_v)
            landmarks.scatter_add_(1, tri, self.lmk_bary_coords)
            rows.append(landmarks)
        return torch.cat(rows)

    def _mesh_buffers(self, vertex_ids: torch.Tensor | None) -> dict:
        """Per-vertex buffers, of all vertices or of ``vertex_ids`` (sorted, unique)."""
        if vertex_ids is None:
            return {"v_template": self.v_template, "shapedirs": self.shapedirs, "posedirs": self.posedirs,
                    "lbs_weights": self.lbs_weights}
        ids = torch.unique(torch.as_tensor(vertex_ids, dtype=torch.long, device=self.v_template.device))
        posedirs = None
        if self.posedirs is not None:
            num_feat = self.posedirs.shape[0]
            posedirs = self.posedirs.view(num_feat, -1, 3)[:, ids].reshape(num_feat, 3 * len(ids))
        return {"v_template": self.v_template[ids], "shapedirs": self.shapedirs[ids], "posedirs": posedirs,
                "lbs_weights": self.lbs_weights[ids]}

    def _extra_joints(self, vertices: torch.Tensor) -> torch.Tensor:
        """``(B, E, 3)`` extra keypoints appended to the skeleton joints (E may be 0)."""
        extras = [vertices[:, :0]]
        if self.extra_regressor is not None:
            extras.append(vertices2joints(self.extra_regressor, vertices))
        if self.extra_vertex_ids is not None:
            extras.append(vertices[:, self.extra_vertex_ids])
        if self.lmk_faces_idx is not None:
            tri = vertices[:, self.faces_tensor[self.lmk_faces_idx]]  # (B, L, 3, 3)
            extras.append((tri * self.lmk_bary_coords[None, :, :, None]).sum(2))
        return torch.cat(extras, dim=1)

    def extra_repr(self) -> str:
        return (f"type={self.model_type}, name={self.name}, vertices={self.v_template.shape[0]}, "
                f"joints={self.num_joints}, num_betas={self.num_betas}, "
                f"pose_correctives={'yes' if self.posedirs is not None else 'no'}")


def _add_batch_major(vertices: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """``vertices + offset`` as a contiguous ``(B, V, 3)`` tensor (elementwise ops keep a
    permuted input's memory layout; writing into a fresh tensor avoids a second copy when
    no gradient is needed)."""
    if torch.is_grad_enabled() and (vertices.requires_grad or offset.requires_grad):
        return (vertices + offset).contiguous()
    out = torch.empty(vertices.shape, dtype=vertices.dtype, device=vertices.device)
    return torch.add(vertices, offset, out=out)
