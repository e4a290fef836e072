"""Course tooling that sits on top of the library and that no notebook imports.

* ``python -m utils.course.prepare`` — the setup step after ``pip install``: make the derived
  assets (dlib's face ResNet converted to Keras), then show every asset's status;
* ``python -m utils.course.demo`` — the main job: enroll, identify and stylise in one run;
* ``python -m utils.course.student`` — write the student notebooks, solutions replaced by stubs.

This ``__init__`` imports nothing, so running one tool never loads the others.
"""
