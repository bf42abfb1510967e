"""Draws each task's default model for its walkthrough: ``docs/images/models/TASK.png``.

    python tools/model_diagrams.py [TASK ...]      # make diagrams

Each task's default model is built exactly as ``gallery train TASK`` builds it (the
task's default config and its embedded data), and drawn with
``keras.utils.plot_model`` (pydot and Debian's graphviz): every layer with its output
shape, nested models (a task's trained ``core``) drawn inside their box. The small
operations Keras records to combine padding masks (``NotEqual``, ``LogicalOr``, ``Any``,
...) are left out of the picture: they carry no weights and hide the model's shape.
The PNGs are
committed, so the docs build needs neither TensorFlow nor graphviz; re-run this after
changing a model.
"""

import argparse
import os
import pathlib
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

OUT = pathlib.Path(__file__).resolve().parents[1] / "docs" / "images" / "models"
#: Keras operations that only propagate masks; not drawn.
MASK_OPS = re.compile(r"\((NotEqual|ZerosLike|LogicalOr|LogicalAnd|ExpandDims|Any|Cast)\)")
#: Data sets drawn besides each task's default (task, data argument, file stem).
EXTRA = [("frame_tagging", "video", "frame_tagging_video")]


def draw(name, data=None, stem=None, out=OUT):
    """Build ``name``'s default model (on ``data``, default: the embedded data set) and
    write its diagram into ``out``; returns the PNG's path."""
    import keras

    from gallery.profiles import make_config
    from gallery.registry import get_task

    task = get_task(name)
    config = make_config(task, source=data)  # the data set's own profile, if any
    splits = task.load_data(config, data)
    model = task.build_model(config, splits)
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{stem or name}.png"
    dot = keras.utils.model_to_dot(model, show_shapes=True, show_layer_names=True,
                                   expand_nested=True, dpi=72, rankdir="TB")
    without_mask_ops(dot)
    dot.write_png(str(path))
    return path


def _graphs(graph):
    yield graph
    for sub in graph.get_subgraphs():
        yield from _graphs(sub)


def without_mask_ops(dot):
    """Remove the mask operations from a ``model_to_dot`` graph, and then every node all
    of whose inputs were removed (e.g. the ``Concatenate`` of the masks)."""
    graphs = list(_graphs(dot))
    nodes = {n.get_name(): (g, n) for g in graphs for n in g.get_nodes()}
    edges = [(g, e) for g in graphs for e in g.get_edges()]
    gone = {name for name, (_, n) in nodes.items() if MASK_OPS.search(n.get_label() or "")}
    while True:
        inputs = {}
        for _, e in edges:
            inputs.setdefault(str(e.get_destination()), []).append(str(e.get_source()))
        more = {dst for dst, srcs in inputs.items()
                if dst not in gone and all(s in gone for s in srcs)}
        if not more:
            break
        gone |= more
    for g, e in edges:
        if str(e.get_source()) in gone or str(e.get_destination()) in gone:
            g.del_edge(e.get_source(), e.get_destination())
    for name in gone:
        graph, _ = nodes[name]
        graph.del_node(name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", help="tasks to draw (default: all)")
    args = parser.parse_args(argv)
    from gallery.registry import task_names

    names = args.tasks or task_names()
    for name in names:
        print(draw(name))
        for task, data, stem in EXTRA:
            if task == name:
                print(draw(task, data, stem))
    return 0


if __name__ == "__main__":
    sys.exit(main())
