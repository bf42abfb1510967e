"""The import graph of ``gallery/``, ``tasks/`` and ``lessons/`` has no circle, and
``gallery/`` imports no task or lesson.

Read statically: every ``.py`` file is parsed with :mod:`ast`, and every ``import`` in
it counts, at module level or inside a function (an import hidden in a function that
runs back up to a module importing this one is still a circle; it only fails later).
Modules are named as installed: ``tasks/`` is ``rnn_gallery.tasks``, ``lessons/`` is
``rnn_gallery.lessons``.

How an import becomes an edge:

* ``import a.b.c`` and ``from a.b.c import name`` → an edge to ``a.b.c``;
* ``from a.b import c``, ``c`` a submodule → an edge to ``a.b.c``, not to ``a.b``;
* relative imports are resolved against the importing module's package.

The package rule: importing ``a.b.c`` runs ``a/b/__init__.py`` first, but that is *not*
an edge to ``a.b``. A package ``__init__`` that re-exports its submodules
(``gallery/layers/__init__.py`` importing ``gallery.layers.cells``) and a submodule that
imports a sibling by its full name (``gallery.layers.recurrent`` importing
``gallery.layers.cells``) therefore make no circle, and they make none at run time
either. What does count is a name taken from a package's ``__init__``
(``from gallery.layers import Recurrent`` inside ``gallery.layers.stack``): that runs
the whole ``__init__``, which imports the importer back, so it is an edge to ``a.b``.
"""

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: Source folder → the name it is installed under.
PACKAGES = {"gallery": "gallery", "tasks": "rnn_gallery.tasks", "lessons": "rnn_gallery.lessons"}


def module_files():
    """``{module name: (path, is a package __init__)}`` of every module of the three."""
    modules = {}
    for folder, name in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            package = parts[-1] == "__init__"
            if package:
                parts.pop()
            modules[".".join([name, *parts])] = (path, package)
    return modules


def imported_modules(name, path, package, known):
    """The modules of ``known`` that module ``name`` (at ``path``) imports: edges by
    the rules in this file's docstring; imports of anything else are left out."""
    here = name if package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        yield from (target for target in targets if target in known)


def import_graph():
    """``{module: sorted modules it imports}`` over gallery, tasks and lessons."""
    modules = module_files()
    return {name: sorted(set(imported_modules(name, path, package, modules)) - {name})
            for name, (path, package) in modules.items()}


def _reached(start, edges):
    seen, todo = {start}, [start]
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def circle_groups(graph):
    """The groups of modules that import one another (each module with every module it
    reaches that reaches it back), groups of one left out; sorted."""
    reverse = {name: [m for m, targets in graph.items() if name in targets] for name in graph}
    groups = {frozenset(_reached(name, graph) & _reached(name, reverse)) for name in graph}
    return sorted((sorted(group) for group in groups if len(group) > 1))


def circle_through(graph, group):
    """A shortest circle from the group's first module back to itself: ``[a, ..., a]``."""
    start = group[0]
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for nxt in graph[path[-1]]:
            if nxt == start:
                return [*path, start]
            if nxt in group and nxt not in seen:
                seen.add(nxt)
                paths.append([*path, nxt])
    raise AssertionError(f"no circle through {group}")


def test_the_module_graph_has_no_circle():
    graph = import_graph()
    found = []
    for group in circle_groups(graph):
        circle = circle_through(graph, group)
        others = [name for name in group if name not in circle]
        found.append(" -> ".join(circle) + (f" (also in it: {', '.join(others)})"
                                            if others else ""))
    assert found == [], "import circles:\n" + "\n".join(found)


def test_the_library_imports_no_task_and_no_lesson():
    graph = import_graph()
    offenders = [f"{name} -> {target}" for name, targets in graph.items()
                 if name.startswith("gallery") for target in targets
                 if target.startswith("rnn_gallery")]
    assert offenders == []


def test_the_graph_sees_function_level_relative_and_package_imports(tmp_path, monkeypatch):
    """The reader itself: a circle through a function-level relative import is found,
    and a package ``__init__`` re-exporting a submodule that imports a sibling is not."""
    for relative, text in {
            "gallery/__init__.py": "",
            "gallery/a.py": "from gallery.b import x\n",
            "gallery/b.py": "def f():\n    from . import a\n",
            "gallery/pkg/__init__.py": "from gallery.pkg.one import y\nfrom .two import z\n",
            "gallery/pkg/one.py": "from gallery.pkg import two\n",
            "gallery/pkg/two.py": "import gallery.pkg.one\n"}.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    for folder in ("tasks", "lessons"):
        (tmp_path / folder).mkdir()
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    graph = import_graph()
    assert graph["gallery.b"] == ["gallery.a"]
    assert graph["gallery.pkg"] == ["gallery.pkg.one", "gallery.pkg.two"]
    assert circle_groups(graph) == [["gallery.a", "gallery.b"],
                                    ["gallery.pkg.one", "gallery.pkg.two"]]
    assert circle_through(graph, ["gallery.a", "gallery.b"]) == ["gallery.a", "gallery.b",
                                                                 "gallery.a"]
