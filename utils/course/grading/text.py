"""Text that came from a learner's kernel, made safe to store and to show.

Anything a kernel sends may hold terminal escape sequences (which rewrite the instructor's
terminal: an exercise shown as passed that failed), carriage returns, bidirectional overrides
or megabytes of text. :func:`clean_text` keeps printable text, newlines and tabs, and cuts.

Names that come from file names (a student id, a submission's path) are cleaned harder by
:func:`clean_name`: no newline or tab either, so a table never prints a line the name forged.

Example:
    >>> clean_text("failed\\x1b[2K\\rpassed \\u202eok", 100)
    'failed[2Kpassed ok'
    >>> clean_text("x" * 50, 20)
    'xxxxxxxxxxxxxxxx ...'
    >>> student_id("in/alice\\n  f  passed  1 of 1.ipynb")
    'alice f passed 1 of 1'
"""

from __future__ import annotations

import unicodedata
from pathlib import PurePath

#: Longest message kept for an exercise (characters); the rest is cut.
MESSAGE_LIMIT = 4000


def clean_text(text, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` without control or format characters (newline and tab kept), at most ``limit`` characters.

    Args:
        text: anything; a non-string is shown with ``repr``.
        limit: the most characters kept; a cut text ends with " ...".

    Returns:
        The cleaned text.
    """
    if not isinstance(text, str):
        text = repr(text)
    text = text[: limit * 4]  # bound the work before looking at each character
    kept = "".join(
        character
        for character in text
        if character in "\n\t" or unicodedata.category(character) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    return kept if len(kept) <= limit else kept[: max(0, limit - 4)] + " ..."


#: Unicode categories never kept in a name: controls (newline and tab too), format characters
#: (bidirectional overrides), surrogates, private use, unassigned, line and paragraph separators.
_NAME_DROPPED = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def clean_name(text, limit: int = 300) -> str:
    """``text`` on one line: control, format and separator characters dropped, runs of spaces made one.

    Example:
        >>> clean_name("bob\\n\\tpassed\\u2028x")
        'bob passed x'
    """
    text = str(text)[: limit * 4]
    kept = "".join(
        " " if character.isspace() else character
        for character in text
        if character.isspace() or unicodedata.category(character) not in _NAME_DROPPED
    )
    return " ".join(kept.split())[:limit]


def student_id(path: str) -> str:
    """The learner's id in the gradebook: the submission's file stem, cleaned (:func:`clean_name`), NFC.

    Name the submissions after the learners' logins or e-mail addresses (docs/GRADING.md).

    Example:
        >>> student_id("submissions/Zoë.ipynb"), student_id("a/\\x07\\n.ipynb")
        ('Zoë', 'submission')
    """
    return clean_name(unicodedata.normalize("NFC", PurePath(path).stem), 200) or "submission"
