"""The reference of every ``--set`` setting, generated from the tasks' config dataclasses.

``python tools/settings_reference.py`` prints it as Markdown; the docs build
(``tools/docs_hooks.py``) adds it to the site as ``reference/settings.md``, so the page
can never drift from the code: a setting added to a task's ``config.py`` appears there
at the next ``make docs``.

For each registered task: one table row per dataclass field, with its type, its
default and its documentation (the comment written beside the field in
``config.py``; settings every task shares come from ``gallery.config.TrainConfig``).
"""

import ast
import dataclasses
import inspect
import textwrap
import typing


def field_comments(cls):
    """``{field: comment}`` from the comments written beside (and under) each field in
    the source of ``cls`` and its dataclass bases; a subclass's comment wins."""
    comments = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass is object:
            continue
        lines, _ = inspect.getsourcelines(klass)
        source = textwrap.dedent("".join(lines))
        body = ast.parse(source).body[0].body
        text = source.splitlines()
        for node in body:
            if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
                continue
            parts = []
            line = text[node.lineno - 1]
            if "#" in line:
                parts.append(line.split("#", 1)[1].strip())
                # continuation lines: a comment alone on the next lines, indented alike
                for follow in text[node.lineno:]:
                    stripped = follow.strip()
                    if not stripped.startswith("#"):
                        break
                    parts.append(stripped[1:].strip())
            if parts:
                comments[node.target.id] = " ".join(parts)
    return comments


def _type_name(kind):
    return getattr(kind, "__name__", str(kind))


def _default(field):
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "(required)"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    return "`" + repr(value).strip("'") + "`" if isinstance(value, str) else f"`{value!r}`"


def _cell(text):
    return text.replace("|", "\\|")


def settings_table(config_class):
    """Markdown table: setting · type · default · what it does."""
    hints = typing.get_type_hints(config_class)
    comments = field_comments(config_class)
    rows = ["| setting | type | default | what it does |", "|---|---|---|---|"]
    for field in dataclasses.fields(config_class):
        rows.append(f"| `{field.name}` | {_type_name(hints[field.name])} | "
                    f"{_cell(_default(field))} | {_cell(comments.get(field.name, ''))} |")
    return "\n".join(rows)


def _tasks():
    """``[(name, task), ...]`` of the registered tasks, sorted by name."""
    from gallery import registry

    return [(name, registry.get_task(name)) for name in registry.task_names()]


def render():
    """The whole reference page as Markdown."""
    out = ["# Settings reference", "",
           "Every setting of every task, as `gallery train TASK --set key=value` takes it.",
           "This page is generated from the tasks' config dataclasses "
           "(`tools/settings_reference.py`) each time the site is built.", "",
           "Types: `true`/`false` for bool; numbers as Python writes them. "
           "Unknown keys and values out of range are refused with one line.", ""]
    for name, task in _tasks():
        out += [f"## {name}", ""]
        summary = getattr(task, "summary", "")
        if summary:
            out += [summary, ""]
        out += [f"Config class: `{task.config_class.__module__}.{task.config_class.__name__}`.",
                "", settings_table(task.config_class), ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render())
