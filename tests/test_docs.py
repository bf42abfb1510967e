"""The documentation site builds in strict mode, and strict mode catches what it should.

``mkdocs build --strict`` (``make docs``) fails on a broken link or anchor, a code
excerpt whose name is gone, a missing snippet file and LaTeX that does not convert
(``tools/docs_hooks.py``). The second test proves each of these really fails a build
of the project's own configuration, so the first one cannot pass by accident.
"""

import dataclasses
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
ENV = dict(os.environ, NO_MKDOCS_2_WARNING="1", TF_CPP_MIN_LOG_LEVEL="3")


def mkdocs_build(config_file, site_dir):
    """``mkdocs build --strict`` in a real process; returns the completed process."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict",
         "--config-file", str(config_file), "--site-dir", str(site_dir)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)


def test_site_builds_strict(tmp_path):
    done = mkdocs_build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr[-3000:]
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]

    def pages(items):
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            yield from pages(value) if isinstance(value, list) else [value]

    for page in pages(nav):
        assert (tmp_path / "site" / page.replace(".md", ".html")).is_file(), page
    # The settings page is generated from the dataclasses: every field of a task is there.
    from rnn_gallery.tasks.sentiment.config import SentimentConfig

    settings = (tmp_path / "site" / "reference" / "settings.html").read_text()
    for field in dataclasses.fields(SentimentConfig):
        assert f"<code>{field.name}</code>" in settings


def _toy_site(tmp_path, page_text):
    """The project's mkdocs.yml (theme, extensions, validation, the code/link/maths
    hook) over a one-page docs folder holding ``page_text``."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("gallery", "templates"):  # the repository's files, beside docs/
        (tmp_path / name).symlink_to(ROOT / name)
    (docs / "index.md").write_text("# Home\n\n## Known heading\n\n" + page_text + "\n")
    config.update(docs_dir=str(docs), nav=[{"Home": "index.md"}],
                  hooks=[str(ROOT / "tools" / "docs_hooks.py")])
    config_file = tmp_path / "mkdocs.yml"
    config_file.write_text(yaml.safe_dump(config))
    return config_file


def test_code_links_and_maths_are_filled_in(tmp_path):
    page = ("<!-- code: gallery/masking.py lengths_to_mask -->\n\n"
            "See [the masking module](../gallery/masking.py) and [a heading](#known-heading).\n\n"
            "$$h_t = \\tanh(W x_t + U h_{t-1} + b)$$\n")
    assert mkdocs_build_here(_toy_site(tmp_path, page), tmp_path / "site")
    html = (tmp_path / "site" / "index.html").read_text()
    assert '<span class="nf">lengths_to_mask</span>' in html
    assert 'href="source/gallery/masking.py.html"' in html
    assert (tmp_path / "site" / "source" / "gallery" / "masking.py.html").is_file()
    assert "<math" in html and "arithmatex" not in html


def mkdocs_build_here(config_file, site_dir):
    """The same strict build in this process (faster for the small sites below);
    True when it succeeded."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    os.environ["NO_MKDOCS_2_WARNING"] = "1"
    config = load_config(config_file=str(config_file), site_dir=str(site_dir), strict=True)
    try:
        build(config)
    except (Exception, SystemExit):  # mkdocs' Abort, a snippet's or the hook's error
        return False
    return True


@pytest.mark.parametrize("page", [
    "[a missing page](missing.md)",
    "[a missing anchor](#no-such-heading)",
    "[a missing repository file](../gallery/no_such_module.py)",
    "<!-- code: gallery/masking.py no_such_function -->",
    '--8<-- "templates/no_such_template.py"',
    "$$\\frac{1}{$$",
    "$$a = b,$$\n$$c = d.$$",
], ids=["page", "anchor", "repo-file", "code-name", "snippet", "latex", "latex-left-as-text"])
def test_strict_build_fails_on(tmp_path, page):
    built = mkdocs_build_here(_toy_site(tmp_path, page), tmp_path / "site")
    assert not built, f"built although the page holds {page!r}"


def _tool(name):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(ROOT / "tools"))


def test_diagrams_leave_out_mask_operations_only():
    import keras

    ids = keras.Input((None,), dtype="int32", name="ids")
    a = keras.layers.Embedding(10, 3, mask_zero=True, name="emb_a")(ids)
    b = keras.layers.Embedding(10, 2, mask_zero=True, name="emb_b")(ids)
    x = keras.layers.Concatenate(name="features")([a, b])  # Keras records mask ops here
    out = keras.layers.GRU(4, name="gru")(x)
    dot = keras.utils.model_to_dot(keras.Model(ids, out), show_shapes=True)
    labels = lambda: " ".join(n.get_label() or "" for n in dot.get_nodes())  # noqa: E731
    assert "(NotEqual)" in labels()
    _tool("model_diagrams").without_mask_ops(dot)
    for kept in ("ids", "emb_a", "emb_b", "features", "gru"):
        assert f"<b>{kept}</b>" in labels(), kept
    assert not re.search(r"\((NotEqual|LogicalOr|Any|ExpandDims|ZerosLike)\)", labels())
    names = {n.get_name() for n in dot.get_nodes()}
    for edge in dot.get_edges():
        assert {str(edge.get_source()), str(edge.get_destination())} <= names


@pytest.mark.skipif(not shutil.which("dot"), reason="graphviz is not installed (make system-deps)")
def test_a_task_diagram_is_drawn(tmp_path):
    path = _tool("model_diagrams").draw("charlm", out=tmp_path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
