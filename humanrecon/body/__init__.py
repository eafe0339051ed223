"""SMPL-family body models: pure LBS functions, safe model-file loading, ``BodyModel``,
and detector keypoint maps.

Example::

    from humanrecon.body import BodyModel
    model = BodyModel.load("open")          # shipped open body, no download
    out = model(betas=torch.zeros(1, 10), body_pose=torch.zeros(1, 69))
    out.vertices.shape                       # (1, V, 3), metres, Y up, facing +Z
"""

from humanrecon.body.io import ModelFileError, UnsafeModelFileError, load_model_arrays, resolve_model_path
from humanrecon.body.keypoints import KeypointMap, keypoint_map
from humanrecon.body.lbs import batch_rigid_transform, blend_shapes, lbs, skin_vertices, vertices2joints
from humanrecon.body.model import BodyModel, BodyOutput
from humanrecon.body.motion import Motion, read_motion

__all__ = [
    "BodyModel", "BodyOutput", "KeypointMap", "ModelFileError", "Motion", "UnsafeModelFileError",
    "batch_rigid_transform", "blend_shapes", "keypoint_map", "lbs", "load_model_arrays",
    "read_motion", "resolve_model_path", "skin_vertices", "vertices2joints",
    # the pose library, served lazily (built on first use) by __getattr__ below
    "LibraryPose", "POSE_LIBRARY", "REPORTING_POSES", "TUNING_POSES", "library_pose", "library_poses",
]
_POSE_LIBRARY_NAMES = frozenset(__all__[-6:])


def __getattr__(name: str):
    if name in _POSE_LIBRARY_NAMES:
        from humanrecon.body import pose_library

        return getattr(pose_library, name)
    raise AttributeError(f"module 'humanrecon.body' has no attribute '{name}'")
