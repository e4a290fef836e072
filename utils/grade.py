"""``python -m utils.grade SUBMISSION.ipynb ...``: grade submitted notebooks (the code is in :mod:`utils.course.grading`).

The grader first re-executes itself with a clean environment and a private bytecode folder, before
TensorFlow is imported (see :mod:`utils.course.grading.environment`); each learner's kernel then
runs in its own sandbox (:mod:`utils.course.grading.sandbox`).
"""

import sys

from utils.course.grading.environment import reexec_clean

if __name__ == "__main__":
    reexec_clean(sys.argv[1:])
    from utils.course.grading.cli import main

    raise SystemExit(main())
