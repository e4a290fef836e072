"""``python -m utils.faces``: the face-recognition command line (see :mod:`utils.faces.cli`)."""

import sys

from utils.faces import cli

sys.exit(cli.main())
