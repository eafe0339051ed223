"""Shared geometry core: rotations, the OpenCV-convention ``Camera`` (and its rays),
ground-truth occupancy / signed distance of meshes (``MeshSDF`` and samplers), mesh
extraction (dense and hierarchical marching cubes), mesh metrics (Chamfer, IoU, normal
consistency, F-score), scene bounds from cameras and the one open3d ray-casting scene
builder (:mod:`.raycasting`).

Every subsystem uses these; none re-implements them.
"""

from humanrecon.geometry.camera import Camera, focal_from_fov, intrinsics_from_focal, intrinsics_from_fov
from humanrecon.geometry.meshing import ExtractionResult, extract_mesh
from humanrecon.geometry.metrics import (
    chamfer_distance,
    f_score,
    mesh_iou,
    mesh_metrics,
    point_to_surface,
    normal_consistency,
    volumetric_iou,
)
from humanrecon.geometry.scene import look_at_centre, visible_bounds
from humanrecon.geometry.sdf import MeshSDF, sample_occupancy_points, sample_sdf_points, sample_surface
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
    "Camera", "ExtractionResult", "MeshSDF", "axis_angle_to_matrix", "axis_angle_to_quaternion",
    "chamfer_distance", "extract_mesh", "f_score", "focal_from_fov", "intrinsics_from_focal",
    "intrinsics_from_fov", "look_at_centre", "matrix_to_axis_angle", "matrix_to_quaternion", "matrix_to_rotation_6d",
    "mesh_iou", "mesh_metrics", "normal_consistency", "point_to_surface", "quaternion_to_axis_angle", "quaternion_to_matrix",
    "rotation_6d_to_matrix", "sample_occupancy_points", "sample_sdf_points", "sample_surface", "visible_bounds", "volumetric_iou",
]
