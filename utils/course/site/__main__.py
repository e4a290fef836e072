"""``python -m utils.course.site``: build the course site (see :mod:`utils.course.site.build`)."""

import sys

from utils.course.site.build import main

sys.exit(main())
