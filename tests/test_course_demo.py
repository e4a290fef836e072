"""The main job (`make demo`) end to end, on a small image and few style-transfer steps."""

import json

import pytest

from utils.assets import lookup
from utils.course import demo


@pytest.mark.slow
def test_demo_identifies_the_course_probes_and_stylises(tmp_path):
    assert demo.main(["--out", str(tmp_path), "--size", "64", "--steps", "3"]) == 0
    faces = json.loads((tmp_path / "faces.json").read_text())
    assert faces["enrolled"] == 12 and faces["probes"] == 6
    # the real encoder gets every camera probe right, each well inside the 0.6 threshold
    assert faces["correct"] == 6
    assert all(result["distance"] < 0.5 for result in faces["results"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    nst = summary["nst"]
    assert nst["weights_kind"] in ("partial", "full") and nst["steps"] == 3
    assert nst["final_losses"]["total"] < nst["initial_losses"]["total"]
    for name in ("faces.png", "stylized.png", "nst.json", "nst_losses.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_a_missing_asset_ends_the_demo_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(lookup.ASSETS_ENV_VAR, raising=False)  # an empty machine: no mirror, no ../shared, empty cache
    monkeypatch.setenv(lookup.SHARED_ENV_VAR, "")
    monkeypatch.setenv(lookup.CACHE_ENV_VAR, str(tmp_path / "empty-cache"))
    assert demo.main(["--out", str(tmp_path), "--skip-nst"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "faces_demo" in error and "make setup" in error
    assert not (tmp_path / "faces.json").exists()
