"""The README is short, its links resolve, and its numbers are the walkthroughs' numbers."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]

README = ROOT / "README.md"
LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")


def _section(markdown, heading):
    """The text under ``## heading`` up to the next ``## ``."""
    start = markdown.index(f"\n## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start:end if end > 0 else None]


def test_readme_is_short_and_says_no_internal_paths():
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    for word in ("/tmp/", "../shared", "target 0.", "session of"):
        assert word not in text, word


def test_readme_links_resolve():
    text = README.read_text()
    for _, target in LINK.findall(text):
        if re.match(r"^[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        assert (ROOT / path).exists(), target
        if anchor:
            headings = re.findall(r"^#+ (.+)$", (ROOT / path).read_text(), re.MULTILINE)
            slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-")
                     for h in headings}
            assert anchor in slugs, target


def test_readme_numbers_are_the_walkthroughs_numbers():
    """A number in the README's task table is the one in the results section it links
    to: the README summarises, the walkthrough holds the command and the details."""
    table = _section(README.read_text(), "Tasks")
    rows = [line for line in table.splitlines() if "](docs/tasks/" in line]
    assert len(rows) >= 5
    for row in rows:
        (_, target), = LINK.findall(row)
        results = _section((ROOT / target.split("#")[0]).read_text(), "Results")
        for number in re.findall(r"\d+\.\d+|\d+ min \d+ s", row):
            assert number in results, (number, target)
