"""Safe writing: overwrite checks before any work, atomic writes that never leave half a
file and never destroy the previous one."""

from __future__ import annotations

import json
import os

import pytest

from humanrecon.errors import InputError, OutputExistsError
from humanrecon.io.files import atomic_write, check_outputs, check_suffix, write_json, write_text


def test_check_outputs_refuses_existing_files_unless_overwrite(tmp_path):
    free, taken = tmp_path / "new.txt", tmp_path / "old.txt"
    taken.write_text("user data")
    assert check_outputs([free], overwrite=False) == [free]
    with pytest.raises(OutputExistsError, match=r"old\.txt exists; pass --overwrite"):
        check_outputs([free, taken], overwrite=False)
    assert check_outputs([taken], overwrite=True) == [taken]
    assert taken.read_text() == "user data"  # checking never writes


def test_check_outputs_refuses_a_folder_and_a_path_under_a_file(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a folder"):
        check_outputs([tmp_path / "folder"], overwrite=True)
    with pytest.raises(InputError, match="'.*file' is a file, not a folder"):
        check_outputs([tmp_path / "file" / "sub" / "out.obj"], overwrite=True)


def test_atomic_write_replaces_only_on_success(tmp_path):
    path = tmp_path / "a" / "b.json"
    write_json(path, {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(path) as handle:
            handle.write(b"half a fi")
            raise RuntimeError("boom")
    assert json.loads(path.read_text()) == {"x": 1}  # the old file is intact
    assert sorted(p.name for p in path.parent.iterdir()) == ["b.json"]  # no temporary left


def test_atomic_write_keeps_the_umask_permissions(tmp_path):
    path = write_text(tmp_path / "t.txt", "hello")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_unwritable_target_is_one_input_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match=r"cannot write '.*file/out\.txt'"):
        write_text(tmp_path / "file" / "out.txt", "y")


def test_check_suffix(tmp_path):
    assert check_suffix(tmp_path / "m.OBJ", (".obj", ".ply"), "--out").name == "m.OBJ"
    with pytest.raises(InputError, match=r"--out must end in \.obj, \.ply, got 'm\.xyz'"):
        check_suffix(tmp_path / "m.xyz", (".obj", ".ply"), "--out")
