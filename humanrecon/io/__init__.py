"""The one file layer: images (:mod:`.images`), meshes (:mod:`.meshes`), checkpoints
(:mod:`.checkpoints`), point clouds (:mod:`.points`) and safe writing (:mod:`.files`: overwrite checks, atomic writes).

Every subsystem reads and writes files only through these, so a file of one kind is
handled one way everywhere: the same error naming the file, the same refusal to
overwrite, never a half-written output. Names load lazily (no torch/cv2 on import).
"""

from __future__ import annotations

from humanrecon._lazy import lazy_exports

_EXPORTS = {
    "atomic_write": "files",
    "check_outputs": "files",
    "write_json": "files",
    "write_text": "files",
    "load_image": "images",
    "load_rgba": "images",
    "save_image": "images",
    "save_animation": "images",
    "to_float_image": "images",
    "to_uint8": "images",
    "IMAGE_SUFFIXES": "images",
    "load_mesh": "meshes",
    "save_mesh": "meshes",
    "MESH_SUFFIXES": "meshes",
    "read_point_cloud": "points",
    "save_checkpoint": "checkpoints",
    "load_checkpoint": "checkpoints",
    "restore_module": "checkpoints",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
