"""Text that came from a learner's kernel, made safe to store and to show.

Anything a kernel sends may hold terminal escape sequences (which rewrite the instructor's
terminal: an exercise shown as passed that failed), carriage returns, bidirectional overrides
or megabytes of text. :func:`clean_text` keeps printable text, newlines and tabs, and cuts.

Example:
    >>> clean_text("failed\\x1b[2K\\rpassed \\u202eok", 100)
    'failed[2Kpassed ok'
    >>> clean_text("x" * 50, 20)
    'xxxxxxxxxxxxxxxx ...'
"""

from __future__ import annotations

import unicodedata

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
    text = text[:limit * 4]               # bound the work before looking at each character
    kept = "".join(character for character in text
                   if character in "\n\t" or unicodedata.category(character) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    return kept if len(kept) <= limit else kept[:max(0, limit - 4)] + " ..."
