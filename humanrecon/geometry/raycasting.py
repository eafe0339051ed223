"""The one builder of open3d ray-casting scenes (signed distance, closest points,
pictures all cast rays against the same kind of scene)."""

from __future__ import annotations

import numpy as np

from humanrecon._validation import mesh_arrays

#: ``primitive_ids`` value open3d reports for a ray that hits nothing
INVALID_ID = 4294967295


def raycasting_scene(vertices, faces):
    """An ``open3d.t.geometry.RaycastingScene`` holding one triangle mesh.

    Args:
        vertices: ``(V, 3)`` metres (numpy, torch or list); cast as float32.
        faces: ``(F, 3)`` integer vertex indices.
    Raises:
        InputError: wrong shapes, NaN/inf vertices, out-of-range or non-integer faces.
    """
    import open3d as o3d  # lazy: heavy import

    v, f = mesh_arrays(vertices, faces)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.ascontiguousarray(v)), o3d.core.Tensor(f.astype(np.uint32)))
    return scene
