"""MkDocs hooks: code shown in the docs comes from the files the tests run.

Two things a plain MkDocs build cannot do, and that the pages need:

1. **Code by name.** A line ``<!-- code: tasks/sentiment/model.py build_model -->``
   in a page becomes a code block holding the current source of ``build_model``
   (a module-level function or class, or ``Class.method``) from that file. The
   excerpt is never a pasted copy, and a renamed or removed name fails the build.
   (Whole files and marked sections come in with ``pymdownx.snippets``:
   ``--8<-- "templates/finetune_sentiment.py"``.)
2. **Links to the repository's files.** A Markdown link from a page to a file
   outside ``docs/`` (``[cli.py](../gallery/cli.py)``) would be a broken link in
   the built site. Each linked file becomes a page of its own under ``source/``
   (its text, highlighted), and the link is rewritten to point there. A link to a
   file that does not exist stays as it is, so the strict build fails on it.
3. **Maths without JavaScript.** ``$...$`` and ``$$...$$`` (``pymdownx.arithmatex``)
   become MathML at build time (``latex2mathml``), which browsers draw natively: the
   site needs no script from a CDN and works offline. LaTeX that does not convert, or
   ``$$`` left as text in the page, fails the build.
"""

import ast
import html
import os
import posixpath
import re

from latex2mathml.converter import convert as latex_to_mathml
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

CODE = re.compile(r"^<!-- code: (\S+) (\S+) -->$", re.MULTILINE)
LINK = re.compile(r"(?<!!)(\[[^\]\n]*\])\(([^)\s#]+)(#[^)\s]*)?\)")
MATH = re.compile(r'<(span|div) class="arithmatex">(?:\\\(|\\\[)(.*?)(?:\\\)|\\\])</\1>',
                  re.DOTALL)
LANGUAGES = {".py": "python", ".cc": "cpp", ".toml": "toml", ".yml": "yaml",
             ".yaml": "yaml", ".json": "json", ".md": "markdown", ".sh": "bash",
             "Makefile": "makefile"}


def _repo(config):
    """The repository: the folder that holds ``docs/``."""
    return os.path.dirname(os.path.abspath(config["docs_dir"]))


def symbol_source(path, name):
    """Source text of the module-level ``name`` (or ``Class.method``) in ``path``."""
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    nodes = ast.parse(source).body
    node = None
    for part in name.split("."):
        node = next((n for n in nodes if getattr(n, "name", None) == part), None)
        if node is None:
            raise PluginError(f"docs: {path} has no {name!r} to show")
        nodes = getattr(node, "body", [])
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    lines = source.splitlines()[start - 1:node.end_lineno]
    indent = len(lines[0]) - len(lines[0].lstrip())
    return "\n".join(line[indent:] for line in lines)


def _outside_target(config, page_uri, target):
    """Repository-relative path of a link ``target`` from page ``page_uri`` that leaves
    ``docs/`` for an existing file or folder of the repository, else None."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
        return None
    docs = os.path.abspath(config["docs_dir"])
    path = os.path.normpath(os.path.join(docs, os.path.dirname(page_uri), target))
    repo = _repo(config)
    if path == docs or path.startswith(docs + os.sep) or not path.startswith(repo + os.sep):
        return None
    if not os.path.exists(path):
        return None
    return os.path.relpath(path, repo).replace(os.sep, "/")


def _source_uri(rel, is_dir):
    return f"source/{rel}/index.md" if is_dir else f"source/{rel}.md"


def _source_page(repo, rel):
    path = os.path.join(repo, rel)
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if not n.startswith((".", "__")))
        return f"# `{rel}/`\n\n" + "\n".join(f"- `{n}`" for n in names) + "\n"
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    base = os.path.basename(rel)
    language = LANGUAGES.get(base) or LANGUAGES.get(os.path.splitext(base)[1], "text")
    fence = "````" if "```" in text else "```"
    return (f"# `{rel}`\n\nThe file as it is in the repository.\n\n"
            f"{fence}{language}\n{text.rstrip()}\n{fence}\n")


def on_files(files, config):
    """Add a ``source/...`` page for every repository file a page links to."""
    repo = _repo(config)
    wanted = set()
    for file in files.documentation_pages():
        for _, target, _ in LINK.findall(file.content_string):
            rel = _outside_target(config, file.src_uri, target)
            if rel:
                wanted.add(rel)
    for rel in sorted(wanted):
        uri = _source_uri(rel, os.path.isdir(os.path.join(repo, rel)))
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, content=_source_page(repo, rel)))
    return files


def on_page_markdown(markdown, page, config, files):
    """Fill in ``<!-- code: ... -->`` blocks and point repository links at their pages."""
    repo = _repo(config)

    def code(match):
        rel, name = match.groups()
        body = symbol_source(os.path.join(repo, rel), name)
        return f'```python title="{rel}: {name}"\n{body}\n```'

    def link(match):
        text, target, anchor = match.groups()
        rel = _outside_target(config, page.file.src_uri, target)
        if not rel:
            return match.group(0)
        uri = _source_uri(rel, os.path.isdir(os.path.join(repo, rel)))
        here = posixpath.dirname(page.file.src_uri)
        return f"{text}({posixpath.relpath(uri, here or '.')})"

    return LINK.sub(link, CODE.sub(code, markdown))


def on_page_content(content, page, config, files):
    """LaTeX from ``pymdownx.arithmatex`` → MathML."""

    def math(match):
        tag, latex = match.groups()
        latex = html.unescape(latex).strip()
        if "$" in latex:  # two display formulas run together: $$a$$\n$$b$$
            raise PluginError(f"docs: {page.file.src_uri}: ${latex}$ holds a $; put a blank "
                              "line before and after each display formula")
        try:
            mathml = latex_to_mathml(latex, display="block" if tag == "div" else "inline")
        except Exception as error:  # the converter raises several kinds
            raise PluginError(f"docs: {page.file.src_uri}: cannot convert ${latex}$: {error}")
        return f'<{tag} class="math">{mathml}</{tag}>'

    content = MATH.sub(math, content)
    prose = re.sub(r"<(pre|code)\b.*?</\1>", "", content, flags=re.DOTALL)
    if "$$" in prose:  # e.g. two display formulas without a blank line between them
        raise PluginError(f"docs: {page.file.src_uri}: a formula was left as text ($$ ... $$); "
                          "put a blank line before and after each display formula")
    return content
