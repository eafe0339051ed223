"""humanrecon: 3D human and neural-field reconstruction in PyTorch.

Subpackages: ``geometry`` (rotations, cameras), ``render`` (ray-cast pictures),
``body`` (SMPL-family body models). Heavy dependencies are imported lazily.
"""

__version__ = "0.1.0"
