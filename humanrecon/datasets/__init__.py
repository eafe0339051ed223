"""Datasets for the multi-view subsystems: NeRF, Gaussian splatting and DVR train on them
(``humanrecon nerf|splat|dvr train``, :func:`humanrecon.pipeline.run`) through
:func:`read_views`:

* :mod:`.blender`: the Blender / NeRF-synthetic format (``transforms_{split}.json`` + RGBA
  PNGs): ``read_blender``, ``write_blender``, ``BlenderSplit``; the OpenGL camera-to-world
  <-> OpenCV :class:`~humanrecon.geometry.camera.Camera` conversion happens only there.
* :mod:`.colmap`: COLMAP sparse models (``cameras/images/points3D`` ``.txt`` or ``.bin``):
  ``read_colmap`` -> ``ColmapScene`` (a :class:`Camera` batch, names, sizes, sparse points and
  colours), ``write_colmap_text``, ``write_colmap_binary``.
* :mod:`.views`: ``read_views`` reads either layout for every trainer
  (``read_colmap_views``: a COLMAP capture's images, every 8th held out for testing).
* :mod:`.synthetic`: synthetic views of a mesh: ``sphere_cameras``, ``body_part_colors``,
  ``render_rgba``, and whole datasets: ``make_views`` (``tools/make_views.py``),
  ``default_body`` (the open body coloured by part).
"""

from humanrecon.datasets.blender import output_paths, read_blender, transforms_path, write_blender
from humanrecon.datasets.colmap import (
    ColmapCamera,
    ColmapScene,
    read_colmap,
    write_colmap_binary,
    write_colmap_text,
)
from humanrecon.datasets.split import BlenderSplit, ViewSplit, downscale_rgba, holdout_indices, scale_cameras
from humanrecon.datasets.views import is_colmap, read_colmap_views, read_views
from humanrecon.datasets.synthetic import (
    bounding_sphere,
    body_part_colors,
    default_body,
    fit_distance,
    make_views,
    mesh_from_file,
    part_palette,
    render_rgba,
    sphere_cameras,
    sphere_directions,
)

__all__ = [
    "BlenderSplit", "ViewSplit", "ColmapCamera", "ColmapScene", "body_part_colors", "bounding_sphere", "downscale_rgba",
    "default_body", "fit_distance", "make_views", "mesh_from_file", "output_paths", "part_palette", "read_blender", "read_colmap", "render_rgba", "scale_cameras",
    "sphere_cameras", "sphere_directions", "transforms_path", "write_blender",
    "write_colmap_binary", "write_colmap_text", "holdout_indices", "is_colmap", "read_colmap_views", "read_views",
]
