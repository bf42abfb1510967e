"""The reference of every ``--set`` setting and ``--profile``, generated from the code.

``python tools/settings_reference.py`` prints it as Markdown; the docs build
(``tools/docs_settings_hook.py``) adds it to the site as ``reference/settings.md``, so
the page can never drift from the code: a setting added to a task's ``config.py``
appears there at the next ``make docs``.

For each registered task: one row per setting with its type, default and documentation,
from :func:`gallery.profiles.settings_rows` (the same rows ``gallery train TASK --help``
prints), then the task's named profiles and what each one sets.
"""

from gallery.profiles import settings_rows
from gallery.registry import get_task, task_names


def _value(value):
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    return f"`{value}`"


def _cell(text):
    return str(text).replace("|", "\\|")


def settings_table(config_class):
    """Markdown table: setting · type · default · what it does."""
    rows = ["| setting | type | default | what it does |", "|---|---|---|---|"]
    for name, kind, default, doc in settings_rows(config_class):
        rows.append(f"| `{name}` | {kind} | {_cell(_value(default))} | {_cell(doc)} |")
    return "\n".join(rows)


def profiles_table(profiles):
    """Markdown table: profile · the settings it sets."""
    rows = ["| profile | sets |", "|---|---|"]
    for name, values in profiles.items():
        sets = ", ".join(f"`{key}={_value(value).strip('`')}`" for key, value in values.items())
        rows.append(f"| `{name}` | {_cell(sets)} |")
    return "\n".join(rows)


def render():
    """The whole reference page as Markdown."""
    out = ["# Settings reference", "",
           "Every setting of every task, as `gallery train TASK --set key=value` takes it, and",
           "the named profiles `--profile NAME` applies. A run's settings are the defaults,",
           "then a profile (the one named, or the one its data set brings: `--data video`",
           "brings `video`), then `--set`, which wins. `gallery train TASK --help` prints the",
           "same. This page is generated from the tasks' config dataclasses",
           "(`tools/settings_reference.py`) each time the site is built.", "",
           "Bools take `true`/`false`. Unknown keys and values out of range are refused with",
           "one line ([bad inputs](../bad_inputs.md)).", ""]
    for name in task_names():
        task = get_task(name)
        out += [f"## {name}", ""]
        if getattr(task, "summary", ""):
            out += [task.summary, ""]
        out += [settings_table(task.config_class), ""]
        profiles = getattr(task, "profiles", None) or {}
        if profiles:
            out += [f"Profiles of {name}:", "", profiles_table(profiles), ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render())
