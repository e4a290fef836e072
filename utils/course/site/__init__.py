"""The course site: every notebook executed once, rendered as static pages for learners and instructors.

``python -m utils.course.site`` (and ``make site``) builds it; see :mod:`utils.course.site.build`
for the two steps (execute, render), the two editions and why the pages read offline.

Example:
    >>> from utils.course.site import page_name
    >>> page_name("notebooks/06_conv1d_conv3d_keras_workflow.ipynb")
    '06_conv1d_conv3d_keras_workflow.html'
"""

from utils.course.site.build import (AUDIENCES, MARKER, build_site, check_replaceable,
                                     execute_notebooks, executed_dir, instructor_folder,
                                     learner_notebook, list_notebooks, main, page_name, render_site)
from utils.course.site.widgets import render_widgets_static, widget_html

__all__ = ["AUDIENCES", "MARKER", "build_site", "check_replaceable", "execute_notebooks",
           "executed_dir", "instructor_folder", "learner_notebook", "list_notebooks", "main",
           "page_name", "render_site", "render_widgets_static", "widget_html"]
