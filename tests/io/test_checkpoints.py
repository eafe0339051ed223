"""Tagged checkpoints: round trip, and one clear error for every kind of wrong file."""

from __future__ import annotations

import pickle

import pytest
import torch

from humanrecon.errors import CheckpointError, MissingFileError
from humanrecon.io.checkpoints import load_checkpoint, restore_module, save_checkpoint


def _linear(settings: dict) -> torch.nn.Module:
    return torch.nn.Linear(settings["inputs"], settings["outputs"])


def test_round_trip_with_extra_entries(tmp_path):
    torch.manual_seed(0)
    module = torch.nn.Linear(3, 2)
    path = save_checkpoint(tmp_path / "sub" / "m.pt", "test", {"inputs": 3, "outputs": 2}, module.state_dict(),
                           step=7, history=[1.0, 0.5])
    restored, data = restore_module(path, "test", _linear)
    assert data["step"] == 7 and data["history"] == [1.0, 0.5] and data["format"] == "humanrecon-test"
    for name, value in module.state_dict().items():
        assert torch.equal(restored.state_dict()[name], value)
    assert [p.name for p in path.parent.iterdir()] == ["m.pt"]  # no temporary left behind


def test_wrong_kind_missing_file_and_foreign_files(tmp_path):
    path = save_checkpoint(tmp_path / "nerf.pt", "nerf", {}, {})
    with pytest.raises(CheckpointError, match=r"nerf\.pt: a humanrecon-nerf checkpoint, expected a humanrecon-implicit"):
        load_checkpoint(path, "implicit")
    with pytest.raises(MissingFileError, match="nope.pt: implicit checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt", "implicit")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"text\.pt: not a humanrecon implicit checkpoint"):
        load_checkpoint(tmp_path / "text.pt", "implicit")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match=r"plain\.pt: not a humanrecon checkpoint"):
        load_checkpoint(tmp_path / "plain.pt", "implicit")


class _RunsCode:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_pickle_that_runs_code_is_refused_before_it_runs(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        pickle.dump({"format": "humanrecon-test", "settings": _RunsCode(), "state_dict": {}}, handle)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(path, "test")
    assert "this must never run" not in capsys.readouterr().out


def test_settings_that_do_not_fit_name_the_file(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", "test", {"inputs": 3, "outputs": 2}, torch.nn.Linear(4, 2).state_dict())
    with pytest.raises(CheckpointError, match=r"m\.pt: damaged test checkpoint"):
        restore_module(path, "test", _linear)
