"""Shared pytest setup for the library tests."""

import sys
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


@pytest.fixture(autouse=True)
def _close_figures():
    """Close the pyplot figures a test opened (a test that keeps one holds the object itself), so
    that hundreds of plotting tests in one process never pile up figures and their memory."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


# ---- style transfer (tests/test_nst_*.py) ---------------------------------------------------


def _find_asset(name: str):
    from utils import assets

    return assets.find(name)


#: The partial ImageNet VGG19 file (blocks 1-3) and the full one, or None where absent.
PARTIAL = _find_asset("vgg19_partial")
FULL = _find_asset("vgg19_full")

#: Marks a test that needs the real partial VGG19 weights.
needs_partial = pytest.mark.skipif(PARTIAL is None, reason="asset vgg19_partial not found")


@pytest.fixture(scope="module")
def images():
    """The classic pair: (content tubingen.jpg, style starry_night.jpg) from asset nst_images."""
    from utils import assets

    folder = assets.resolve("nst_images")
    return folder / "content" / "tubingen.jpg", folder / "style" / "starry_night.jpg"


# ---- browser tests (tests/test_site_browser.py, tests/test_jupyterlab_browser.py) ----------------


def pytest_terminal_summary(terminalreporter):
    """Say once, in one line, that the browser tests were skipped for want of Chromium."""
    from site_browser import NO_CHROMIUM

    skipped = terminalreporter.stats.get("skipped", [])
    if any(NO_CHROMIUM in str(getattr(report, "longrepr", "")) for report in skipped):
        terminalreporter.write_line(NO_CHROMIUM)
