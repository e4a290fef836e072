"""The README and the pages of docs/: a README a newcomer reads in five minutes, links that lead
somewhere, and the documentation pages the README and the course site share (issue 29).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from utils import config
from utils.course.site import build

ROOT = config.REPO_ROOT
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1", re.M | re.S)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def links(text: str) -> list[str]:
    """The targets of a markdown text's links and images, leaving out code blocks and code spans."""
    return _LINK.findall(_CODE.sub("", _FENCE.sub("", text)))


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives the text's headings (the ones the project's links use)."""
    return {build.github_anchor(title) for title in _HEADING.findall(_FENCE.sub("", text))}


def test_the_readme_reads_in_five_minutes():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move the details to a page of docs/"
    headings = [line[3:] for line in lines if line.startswith("## ")]
    assert headings[:3] == ["Quick start", "Supported systems", "The notebooks"], headings


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.name)
def test_every_link_leads_to_a_file_and_heading_that_exist(page):
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in links(text):
        if re.match(r"^[a-z]+:", target):
            continue
        path_part, _, fragment = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading with the anchor #{fragment} in {linked.name}")
    assert broken == [], f"{page.name}: broken links"


def test_the_link_checker_finds_a_broken_link(tmp_path):
    """The checks above can fail: a missing file, a missing heading, and code that is not a link."""
    page = tmp_path / "PAGE.md"
    page.write_text(
        "# Page\n\n## Real heading\n\n[ok](#real-heading) [gone](GONE.md) [no](#nowhere)\n"
        "`[code](NOT_A_LINK.md)`\n```\n[fenced](ALSO_NOT.md)\n```\n"
    )
    text = page.read_text()
    assert links(text) == ["#real-heading", "GONE.md", "#nowhere"]
    assert anchors(text) == {"page", "real-heading"}


def test_the_readme_leads_to_every_page_the_site_renders():
    targets = {Path(target.partition("#")[0]).name for target in links(README.read_text(encoding="utf-8"))}
    missing = [name for name, _, _ in build.DOC_PAGES if name not in targets]
    assert missing == [], f"README.md does not link docs pages {missing}"
    assert all((ROOT / "docs" / name).is_file() for name, _, _ in build.DOC_PAGES)
