"""``python -m utils.grade SUBMISSION.ipynb ...``: grade submitted notebooks (the code is in :mod:`utils.course.grade`)."""

from utils.course.grade import main

if __name__ == "__main__":
    raise SystemExit(main())
