"""Errors that once left the family (a bare TypeError / IndexError) are now humanrecon
errors, and still the builtin a Python user expects: the CLI prints them as one line, and
``except TypeError`` (...) keeps working. (MissingDependencyError: tests/fitting/test_detect.py.)"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from humanrecon.errors import (
    HumanreconError,
    InputError,
    InputIndexError,
    InputTypeError,
    MissingDependencyError,
)
from humanrecon.geometry.camera import Camera

TRIANGLE = (np.array([[0.0, 0.0, 2.0], [1.0, 0.0, 2.0], [0.0, 1.0, 2.0]]), np.array([[0, 1, 2]]))


def _camera(n: int = 1) -> Camera:
    return Camera.from_fov(math.radians(60), 16, 12, R=torch.eye(3).expand(n, 3, 3), t=torch.zeros(n, 3))


def test_the_new_classes_sit_in_the_family():
    assert issubclass(InputTypeError, InputError) and issubclass(InputTypeError, TypeError)
    assert issubclass(InputIndexError, InputError) and issubclass(InputIndexError, IndexError)
    assert issubclass(MissingDependencyError, HumanreconError) and issubclass(MissingDependencyError, ImportError)
    assert not issubclass(MissingDependencyError, InputError)  # not the user's input at fault


def test_rotations_want_tensors():
    from humanrecon.geometry.rotations import axis_angle_to_matrix, matrix_to_quaternion

    with pytest.raises(InputTypeError, match="axis_angle must be a torch.Tensor, got list"):
        axis_angle_to_matrix([0.0, 0.0, 0.0])
    with pytest.raises(TypeError, match="matrix must be a torch.Tensor, got ndarray"):
        matrix_to_quaternion(np.eye(3))


def test_camera_index_out_of_range_or_empty():
    cams = _camera(2)
    with pytest.raises(InputIndexError, match="camera index 2 out of range for batch size 2"):
        cams[2]
    with pytest.raises(IndexError, match="selects no camera"):
        cams[1:1]
    assert len(list(cams)) == 2  # iteration still ends on the IndexError protocol


def test_render_wants_a_camera_and_known_options():
    from humanrecon.render.raycast import render_mesh, render_views

    with pytest.raises(InputTypeError, match="camera must be a humanrecon Camera, got str"):
        render_mesh(*TRIANGLE, "front")
    with pytest.raises(InputTypeError, match=r"unexpected keyword arguments: \['colour'\]"):
        render_views(*TRIANGLE, _camera(), colour=(1, 0, 0))


def test_write_blender_wants_a_camera(tmp_path):
    from humanrecon.datasets.blender import write_blender

    with pytest.raises(InputTypeError, match="cameras must be a humanrecon Camera, got list"):
        write_blender(tmp_path, "train", np.zeros((1, 12, 16, 4), np.float32), [None])


def test_nerf_model_unknown_field_setting():
    from humanrecon.nerf.model import NerfModel

    with pytest.raises(InputTypeError, match=r"unknown field settings: \['colour_layers'\]"):
        NerfModel([[0, 0, 0], [1, 1, 1]], colour_layers=3)

