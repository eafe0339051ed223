"""humanrecon: 3D human and neural-field reconstruction in PyTorch.

Subpackages:

* ``geometry``: the shared core: rotations, the OpenCV-convention ``Camera`` and its rays,
  ground-truth occupancy/SDF of meshes, mesh extraction, mesh metrics, scene bounds;
* ``render``: pictures of meshes by ray casting, image grids and image metrics;
* ``datasets``: multi-view datasets in Blender / NeRF-synthetic (``transforms.json``) and
  COLMAP layouts, and synthetic views of any mesh or body;
* ``body``: SMPL, SMPL+H, SMPL-X, MANO and the open body and hand;
* ``fitting``: body models fitted to 2D keypoints: SMPLify and LGD (learned gradient
  descent), keypoint files, the optional detector;
* ``implicit``: implicit shapes: occupancy networks, DeepSDF, IGR;
* ``nerf``: hash-grid NeRF with an occupancy grid;
* ``splat``: 3D Gaussian splatting (a differentiable rasterizer with torch, C++ and CUDA
  backends, densification, training);
* ``dvr``: differentiable volumetric rendering of implicit surfaces from multi-view images;
* meshes of every field come from one extractor (``geometry.meshing``: dense and
  hierarchical marching cubes);
* ``pipeline``: ``run(method, dataset, out_dir, config)`` from a dataset to an evaluated run;
* ``io``: the one file layer (images, meshes, checkpoints, atomic writes);
* ``training``: the training loop every trainer shares; ``errors``: the error family;
* ``cli``: the ``humanrecon`` command.

Heavy dependencies (torch, open3d, cv2) are imported lazily where a package allows it.
"""

__version__ = "0.1.0"
