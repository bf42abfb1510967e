"""The reference of every ``--set`` setting, generated from the tasks' config dataclasses.

``python tools/settings_reference.py`` prints it as Markdown; the docs build
(``tools/docs_hooks.py``) adds it to the site as ``reference/settings.md``, so the page
can never drift from the code: a setting added to a task's ``config.py`` appears there
at the next ``make docs``.

For each registered task: one table row per dataclass field, with its type, its
default and its documentation (the comment written beside the field in
``config.py``; settings every task shares come from ``gallery.config.TrainConfig``),
read by ``gallery.profiles.settings_rows``; then the task's named profiles.
"""

from gallery import registry
from gallery.profiles import settings_rows


def _default(value):
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    return "`" + value + "`" if isinstance(value, str) else f"`{value!r}`"


def _cell(text):
    return text.replace("|", "\\|")


def settings_table(config_class):
    """Markdown table: setting · type · default · what it does
    (``gallery.profiles.settings_rows``, which ``gallery train TASK --help`` prints too)."""
    rows = ["| setting | type | default | what it does |", "|---|---|---|---|"]
    for name, kind, default, doc in settings_rows(config_class):
        rows.append(f"| `{name}` | {kind} | {_cell(_default(default))} | {_cell(doc)} |")
    return "\n".join(rows)


def profiles_list(task):
    """Markdown bullets: each named profile (``--profile NAME``) and what it sets."""
    return "\n".join(f"- `{name}`: " + ", ".join(
        f"`{key}={str(value).lower() if isinstance(value, bool) else value}`"
        for key, value in values.items()) for name, values in task.profiles.items())


def render():
    """The whole reference page as Markdown."""
    out = ["# Settings reference", "",
           "Every setting of every task, as `gallery train TASK --set key=value` takes it.",
           "This page is generated from the tasks' config dataclasses "
           "(`tools/settings_reference.py`) each time the site is built.", "",
           "Types: `true`/`false` for bool; numbers as Python writes them. "
           "Unknown keys and values out of range are refused with one line.", ""]
    for name in registry.task_names():
        task = registry.get_task(name)
        out += [f"## {name}", ""]
        summary = getattr(task, "summary", "")
        if summary:
            out += [summary, ""]
        out += [f"Config class: `{task.config_class.__module__}.{task.config_class.__name__}`.",
                "", settings_table(task.config_class), ""]
        if task.profiles:
            out += ["Profiles (`--profile NAME`; a data set may bring its own; `--set` wins):",
                    "", profiles_list(task), ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render())
