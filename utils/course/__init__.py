"""Course tooling that sits on top of the library and that no notebook imports.

* ``python -m utils.course.prepare`` — the setup step after ``pip install``: make the derived
  assets (dlib's face ResNet converted to Keras), then show every asset's status;
* ``python -m utils.course.demo`` — the main job: enroll, identify and stylise in one run;
* ``python -m utils.course.student`` — write the student notebooks, solutions replaced by stubs;
* ``python -m utils.course.diagrams`` — redraw the concept diagrams the notebooks show;
* ``python -m utils.course.notebook_text`` — words per notebook, required path vs optional sections;
* ``python -m utils.course.site`` — execute the notebooks and render the course site;
* ``python -m utils.course COMMAND`` — every command above and the Makefile's, without make;
* ``utils.course.grading`` — the autograder behind ``python -m utils.grade``.

This ``__init__`` imports nothing, so running one tool never loads the others.
"""
