"""The ``manifest.csv`` of a face gallery: which image shows whom, and what it is for.

The demo galleries of the ``faces_demo`` asset (``course/``, ``lfw/``, ``ageitgey/``) each hold a
``manifest.csv`` with at least the columns ``path`` (relative to the folder) and ``identity``,
usually also ``role`` (``database``/``probe`` for the course faces, ``gallery``/``probe_known``/
``probe_unknown`` for the LFW gallery). :func:`read_manifest` reads it, with every ``path``
turned into a :class:`~pathlib.Path` inside the folder.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from utils.faces.manifest import read_manifest
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "manifest.csv").write_text("path,identity,role\\nann.jpg,ann,database\\n")
    >>> rows = read_manifest(folder)
    >>> rows[0]["identity"], rows[0]["role"], rows[0]["path"] == folder / "ann.jpg"
    ('ann', 'database', True)
"""

from __future__ import annotations

import csv
from pathlib import Path

from utils.errors import UsageError

#: The file name of a gallery's manifest.
MANIFEST_NAME = "manifest.csv"


def read_manifest(folder) -> list[dict]:
    """The rows of ``folder/manifest.csv`` as dictionaries, ``path`` made a Path inside ``folder``.

    Args:
        folder: a gallery folder holding ``manifest.csv``.

    Returns:
        One dictionary per row, in file order; the values are strings except ``path``.

    Raises:
        FileNotFoundError: the folder has no manifest.
        utils.errors.UsageError: the manifest has no ``path`` or ``identity`` column.
    """
    folder = Path(folder)
    manifest = folder / MANIFEST_NAME
    with open(manifest, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"path", "identity"} - set(reader.fieldnames or ())
        if missing:
            raise UsageError(
                f"{manifest} has no column(s) {', '.join(sorted(missing))}; "
                f"found {', '.join(reader.fieldnames or ()) or 'no header'}"
            )
        rows = list(reader)
    for row in rows:
        row["path"] = folder / row["path"]
    return rows
