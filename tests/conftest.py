"""Shared pytest setup for the library tests."""

from pathlib import Path

import numpy as np
import pytest

#: 6 uint8 face chips with the descriptors dlib itself computed for them (tools/make_dlib_parity_fixture.py).
PARITY_FIXTURE = Path(__file__).parent / "fixtures" / "dlib_parity.npz"


@pytest.fixture(scope="session")
def parity():
    """The dlib parity fixture: ``chips``, ``descriptors`` and their names."""
    return np.load(PARITY_FIXTURE)


@pytest.fixture(scope="session")
def converted_path():
    """The converted dlib encoder of ``make setup``; converted here when it is missing."""
    from utils import assets
    from utils.faces import dlib_resnet

    return assets.find("dlib_face_resnet_keras") or dlib_resnet.convert()
