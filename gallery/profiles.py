"""Named profiles and the settings reference, both read from a task's config dataclass.

A task's ``config.py`` holds its dataclass (every setting declared with
:func:`gallery.config.setting`: its default and one line saying what it does) and
``PROFILES``: named sets of settings, e.g. ``{"demo": {"epochs": 6, ...}, "sentences":
{...}}``. A run's settings are, in
order: the dataclass defaults, then a profile (``--profile NAME``, or the one the
data set brings: ``task.data_profile(source)``), then ``--set key=value``, which wins.

:func:`settings_rows` is the one place the settings are described; ``gallery train
TASK --help`` (:func:`settings_help`) and the docs' settings reference format it.
"""

import dataclasses
import typing

from gallery.config import apply_overrides
from gallery.errors import GalleryError


def profile_settings(task, name):
    """``["key=value", ...]`` of profile ``name`` of ``task`` (one-line error if unknown)."""
    profiles = getattr(task, "profiles", {}) or {}
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "this task has none"
        raise GalleryError(f"unknown profile {name!r} for {task.name}; profiles: {known}")
    return [f"{key}={_text(value)}" for key, value in profiles[name].items()]


def make_config(task, profile=None, source=None, overrides=()):
    """The settings of a run: defaults, then ``profile`` (default: the data set's own,
    ``task.data_profile(source)``), then ``overrides`` (``["key=value", ...]``)."""
    profile = profile or task.data_profile(source)
    pairs = profile_settings(task, profile) if profile else []
    return apply_overrides(task.config_class(), [*pairs, *(overrides or ())])


def _text(value):
    """A value as ``--set`` takes it (``true``/``false`` for bools)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def setting_docs(config_class):
    """``{field: one line}``: each field's ``metadata["doc"]`` (declared with
    :func:`gallery.config.setting`). A field a subclass redeclares only to change its
    default (``epochs: int = 40``) keeps the doc of the class it comes from."""
    docs = {}
    for klass in reversed(config_class.__mro__):
        if dataclasses.is_dataclass(klass):
            for field in dataclasses.fields(klass):
                if field.metadata.get("doc"):
                    docs[field.name] = field.metadata["doc"]
    return docs


def settings_rows(config_class):
    """``[(name, type name, default, doc), ...]`` for every setting, in field order."""
    hints = typing.get_type_hints(config_class)
    docs = setting_docs(config_class)
    rows = []
    for field in dataclasses.fields(config_class):
        default = field.default if field.default is not dataclasses.MISSING else (
            field.default_factory() if field.default_factory is not dataclasses.MISSING
            else None)
        rows.append((field.name, getattr(hints[field.name], "__name__", str(hints[field.name])),
                     default, docs.get(field.name, "")))
    return rows


def settings_help(task):
    """What ``gallery train TASK --help`` adds: every setting (type, default, what it
    does), then each profile and what it sets."""
    rows = settings_rows(task.config_class)
    width = max(len(name) for name, *_ in rows)
    out = [f"settings of {task.name} (--set key=value; bools take true/false):"]
    for name, kind, default, doc in rows:
        out.append(f"  {name:{width}s}  {kind:5s} {_text(default)!s:>9s}  {doc}")
    profiles = getattr(task, "profiles", {}) or {}
    out.append("")
    out.append("profiles (--profile NAME; a data set may bring its own; --set wins):"
               if profiles else "profiles: none")
    for name, values in profiles.items():
        out.append(f"  {name}: " + ", ".join(f"{k}={_text(v)}" for k, v in values.items()))
    return "\n".join(out)
