"""Shared geometry core: rotations and the OpenCV-convention ``Camera``.

Every subsystem uses these; none re-implements them.
"""

from humanrecon.geometry.camera import Camera, focal_from_fov, intrinsics_from_focal, intrinsics_from_fov
from humanrecon.geometry.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    matrix_to_rotation_6d,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
    rotation_6d_to_matrix,
)

__all__ = [
    "Camera", "axis_angle_to_matrix", "axis_angle_to_quaternion", "focal_from_fov",
    "intrinsics_from_focal", "intrinsics_from_fov", "matrix_to_axis_angle",
    "matrix_to_quaternion", "matrix_to_rotation_6d", "quaternion_to_axis_angle",
    "quaternion_to_matrix", "rotation_6d_to_matrix",
]
