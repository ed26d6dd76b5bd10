"""The README's Python examples run as written, twice in the same folder; its links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
DOCS = [
    README,
    ROOT / "docs" / "benchmarks.md",
    ROOT / "docs" / "architecture.md",
    ROOT / "data" / "README.md",
    ROOT / "data" / "jsb" / "README.md",
    ROOT / "dsp_rnn" / "_models" / "default" / "MODEL_CARD.md",
]


def test_readme_has_examples():
    assert len(BLOCKS) >= 1


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs_twice(index, tmp_path, monkeypatch):
    # every example checks its own claims with assert statements, so running it tests them;
    # a user runs it again in the same folder, where the files it wrote now exist
    assert "assert " in BLOCKS[index]
    monkeypatch.chdir(tmp_path)
    code = compile(BLOCKS[index], f"README.md block {index}", "exec")
    for _ in range(2):
        exec(code, {})


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_images_resolve(doc):
    text = doc.read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        assert file.exists(), f"{doc.name}: link to missing {target}"
        if anchor and file.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", file.read_text(), flags=re.M)
            assert anchor in {_anchor(h) for h in headings}, f"{doc.name}: no #{anchor}"


def test_docs_do_not_point_outside_the_checkout():
    for doc in DOCS:
        assert "../shared" not in doc.read_text(), doc
