"""The repository's own API reference stays true to the code, and nothing in the repository points outside it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*ROOT.glob("shared/**/*.py"), *ROOT.glob("functions/*/main.py")]


def test_every_problem_code_the_code_can_answer_is_in_the_api_reference():
    reference = (ROOT / "docs" / "api.md").read_text()
    codes = {code for path in SOURCES for code in re.findall(r'code="([a-z_]+)"', path.read_text())}
    assert len(codes) > 30  # the scan found the codes, not nothing
    assert sorted(code for code in codes if f"`{code}`" not in reference) == []


def test_no_document_links_outside_the_repository():
    documents = [*ROOT.glob("*.md"), *ROOT.glob("docs/**/*.md")]
    assert documents
    outside = []
    for document in documents:
        for target in re.findall(r"\]\(([^)#\s]+)", document.read_text()):
            if "://" in target:
                continue
            resolved = (document.parent / target).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                outside.append(f"{document.relative_to(ROOT)} -> {target}")
    assert outside == []


def _github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_readmes_table_of_contents_points_at_its_own_headings():
    # docs/ is checked by `make docs` (mkdocs --strict); the README is outside it.
    readme = (ROOT / "README.md").read_text()
    anchors = {_github_anchor(h) for h in re.findall(r"^#{2,3} (.+)$", readme, flags=re.M)}
    links = re.findall(r"\]\(#([^)]+)\)", readme)

    assert len(links) >= 5
    assert sorted(set(links) - anchors) == []
    assert len(readme.splitlines()) <= 350  # onboarding; the rest lives in docs/
