"""``python -m utils.course COMMAND``: the course commands without make (see :mod:`utils.course.cli`)."""

import sys

from utils.course.cli import main

sys.exit(main())
