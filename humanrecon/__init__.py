"""humanrecon: 3D human and neural-field reconstruction in PyTorch.

Subpackages:

* ``geometry``: the shared core: rotations, the OpenCV-convention ``Camera`` and its rays,
  ground-truth occupancy/SDF of meshes, mesh extraction, mesh metrics, scene bounds;
* ``render``: pictures of meshes by ray casting, image grids and image metrics;
* ``datasets``: Blender / NeRF-synthetic datasets and synthetic views of any mesh;
* ``body``: SMPL, SMPL+H, SMPL-X, MANO and the open body and hand;
* ``fitting``: SMPLify from 2D keypoints, keypoint files, the optional detector;
* ``implicit``: occupancy networks, DeepSDF, IGR;
* ``nerf``: hash-grid NeRF with an occupancy grid;
* ``io``: the one file layer (images, meshes, checkpoints, atomic writes);
* ``training``: the training loop every trainer shares; ``errors``: the error family;
* ``cli``: the ``humanrecon`` command.

Heavy dependencies (torch, open3d, cv2) are imported lazily where a package allows it.
"""

__version__ = "0.1.0"
