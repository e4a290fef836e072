"""Tests for utils.faces.manifest: the demo galleries' manifest.csv files."""

from pathlib import Path

import pytest

from utils import assets, errors
from utils.faces import read_manifest


def test_course_manifest_lists_12_people_and_6_camera_images():
    folder = assets.resolve("faces_demo") / "course"
    rows = read_manifest(folder)
    roles = [row["role"] for row in rows]
    assert roles.count("database") == 12 and roles.count("probe") == 6
    assert all(isinstance(row["path"], Path) and row["path"].parent == folder and row["path"].is_file() for row in rows)
    assert {"identity": "younes", "role": "database"}.items() <= next(
        row for row in rows if row["path"].name == "younes.jpg"
    ).items()


def test_lfw_gallery_manifest_paths_reach_into_subfolders():
    folder = assets.resolve("faces_demo") / "lfw"
    rows = read_manifest(folder)
    assert {row["role"] for row in rows} >= {"gallery", "probe_known", "probe_unknown"}
    first = rows[0]
    assert first["path"] == folder / "gallery" / first["identity"] / first["path"].name
    assert all(row["path"].is_file() for row in rows)


def test_manifest_without_the_needed_columns_is_refused(tmp_path):
    (tmp_path / "manifest.csv").write_text("file,name\na.jpg,ann\n")
    with pytest.raises(errors.UsageError, match="no column"):
        read_manifest(tmp_path)
    with pytest.raises(FileNotFoundError):
        read_manifest(tmp_path / "elsewhere")
