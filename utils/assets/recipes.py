"""Recipes: files of a data set computed from another pinned file (LFW's folds 1-2 ``pairs.txt``/``pairs.csv``).

Example:
    >>> sorted(RECIPES)
    ['lfw_pairs_csv_folds_1_2', 'lfw_pairs_txt_folds_1_2']
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from utils.assets import registry


def _lfw_first_folds(pairs: bytes, folds: int) -> bytes:
    r"""The first ``folds`` folds of an official LFW ``pairs.txt``, with its header rewritten.

    Example:
        >>> _lfw_first_folds(b"3\t1\nA\t1\t2\nA\t1\tB\t1\nC\t1\t2\nC\t1\tD\t1\n", 1)
        b'1\t1\nA\t1\t2\nA\t1\tB\t1\n'
    """
    lines = pairs.decode("ascii").splitlines()
    _, per_fold = (int(value) for value in lines[0].split())
    kept = lines[1 : 1 + folds * 2 * per_fold]
    return (f"{folds}\t{per_fold}\n" + "".join(line + "\n" for line in kept)).encode("ascii")


def _lfw_pairs_csv(pairs: bytes) -> bytes:
    r"""An LFW ``pairs.txt`` as ``fold,same,path_a,path_b,name_a,name_b`` rows (paths under images/).

    Example:
        >>> print(_lfw_pairs_csv(b"1\t1\nA\t1\t2\nA\t1\tB\t3\n").decode().replace("\r", ""), end="")
        fold,same,path_a,path_b,name_a,name_b
        1,1,images/A/A_0001.jpg,images/A/A_0002.jpg,A,A
        1,0,images/A/A_0001.jpg,images/B/B_0003.jpg,A,B
    """
    lines = pairs.decode("ascii").splitlines()
    _, per_fold = (int(value) for value in lines[0].split())
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["fold", "same", "path_a", "path_b", "name_a", "name_b"])
    for index, line in enumerate(lines[1:]):
        fields = line.split("\t")
        if len(fields) == 3:
            name_a, number_a, name_b, number_b = fields[0], fields[1], fields[0], fields[2]
        else:
            name_a, number_a, name_b, number_b = fields
        writer.writerow(
            [
                index // (2 * per_fold) + 1,
                int(len(fields) == 3),
                f"images/{name_a}/{name_a}_{int(number_a):04d}.jpg",
                f"images/{name_b}/{name_b}_{int(number_b):04d}.jpg",
                name_a,
                name_b,
            ]
        )
    return text.getvalue().encode("ascii")


#: recipe name -> (function of the input's bytes, input URL, input sha256); a manifest's
#: ``derive:<recipe name>`` origin names one (:mod:`utils.assets.fetching` runs it).
RECIPES: dict[str, tuple[Callable[[bytes], bytes], str, str]] = {
    "lfw_pairs_txt_folds_1_2": (
        lambda pairs: _lfw_first_folds(pairs, 2),
        registry.LFW_PAIRS_URL,
        registry.LFW_PAIRS_SHA256,
    ),
    "lfw_pairs_csv_folds_1_2": (
        lambda pairs: _lfw_pairs_csv(_lfw_first_folds(pairs, 2)),
        registry.LFW_PAIRS_URL,
        registry.LFW_PAIRS_SHA256,
    ),
}
#: input sha256 -> its size in bytes, to find a local copy of the input before downloading it.
RECIPE_INPUT_SIZES = {registry.LFW_PAIRS_SHA256: 155_335}
