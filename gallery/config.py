"""Task configs: one dataclass per task, overridden with ``--set key=value``.

Every task config derives from :class:`TrainConfig`, so every task has at least
``epochs``, ``batch_size``, ``learning_rate``, ``seed``, ``cell`` and ``units``.
"""

import dataclasses
import math
import types
import typing

from gallery.errors import GalleryError
from gallery.layers.cells import CELLS

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def setting(default, doc):
    """A settings field with its default and its one-line description: the description
    is the field's ``metadata["doc"]``, the one source ``gallery train TASK --help`` and
    the docs' settings reference read (:func:`gallery.profiles.settings_rows`)."""
    return dataclasses.field(default=default, metadata={"doc": doc})


class SettingChecks:
    """Checks for a dataclass of settings, each a one-line :class:`GalleryError`."""

    def require_positive(self, *names):
        """``GalleryError`` unless every named setting is > 0."""
        for name in names:
            if getattr(self, name) <= 0:
                raise GalleryError(f"setting {name} must be positive, got {getattr(self, name)}")

    def require_fraction(self, *names):
        """``GalleryError`` unless every named setting is in [0, 1)."""
        for name in names:
            if not 0.0 <= getattr(self, name) < 1.0:
                raise GalleryError(f"setting {name} must be in [0, 1), got {getattr(self, name)}")

    def require_choice(self, name, choices):
        """``GalleryError`` unless setting ``name`` is one of ``choices``."""
        if getattr(self, name) not in choices:
            names = ", ".join(choices[:-1]) + " or " + choices[-1]
            raise GalleryError(f"setting {name} must be {names}, got {getattr(self, name)!r}")


@dataclasses.dataclass
class TrainConfig(SettingChecks):
    epochs: int = setting(10, "upper bound; early stopping usually ends sooner")
    batch_size: int = setting(64, "examples (or streams) per training batch")
    learning_rate: float = setting(2e-3, "Adam's step size")
    seed: int = setting(1234, "seeds weights, shuffling and dropout")
    cell: str = setting("lstm", "the recurrent cell: " + " | ".join(CELLS))
    units: int = setting(64, "state size of each recurrent layer")
    clipnorm: float = setting(1.0, "clip each gradient's norm at this value, 0 disables")
    patience: int = setting(2, "early stopping: epochs without validation improvement")
    lr_plateau_factor: float = setting(
        0.0, "multiply the learning rate by this after an epoch without validation "
             "improvement (keras ReduceLROnPlateau, patience 1); 0: never")
    ema: float = setting(0.0,
                         "keep an exponential moving average of the weights with this momentum "
                         "(e.g. 0.99) and use it; 0 disables")
    max_minutes: float = setting(0.0,
                                 "stop before an epoch would end past this many minutes of "
                                 "training (the best epoch is kept); 0: no limit")
    tensorboard: bool = setting(True, "write TensorBoard logs (epoch scalars, graph) to RUN/logs")

    def require_int_range(self):
        """``GalleryError`` unless ``seed`` is in [0, 2**32 - 1] (what the random number
        generators take) and every other whole-number setting fits TensorFlow's int32."""
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if hints.get(field.name) is not int or isinstance(value, bool):
                continue
            low, high = (0, 2**32 - 1) if field.name == "seed" else (-2**31, 2**31 - 1)
            if not isinstance(value, int) or not low <= value <= high:
                raise GalleryError(f"setting {field.name} must be a whole number from {low} to "
                                   f"{high}, got {value!r}")

    def validate(self):
        """Raise ``GalleryError`` on values no model can use."""
        self.require_int_range()
        self.require_positive("epochs", "batch_size", "units", "learning_rate")
        self.require_fraction("ema")
        if not 0 <= self.lr_plateau_factor < 1:
            raise GalleryError("setting lr_plateau_factor must be in [0, 1), got "
                               f"{self.lr_plateau_factor}")
        if self.max_minutes < 0:
            raise GalleryError(f"setting max_minutes must be >= 0, got {self.max_minutes}")
        self.require_choice("cell", tuple(CELLS))
        return self


def _parse(name, text, kind):
    """``text`` as a value of type ``kind``: bool, int, float, str, ``tuple[T, ...]``
    (comma-separated) or ``T | tuple[T, ...]`` (a tuple when ``text`` has a comma)."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        many = [k for k in options if typing.get_origin(k) is tuple]
        one = [k for k in options if typing.get_origin(k) is not tuple]
        return _parse(name, text, many[0] if many and ("," in text or not one) else one[0])
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0]
        return tuple(_parse(name, part, item) for part in text.split(","))
    if kind is bool:
        low = text.strip().lower()
        if low in _TRUE | _FALSE:
            return low in _TRUE
        raise GalleryError(f"setting {name} takes true or false, got {text!r}")
    try:
        value = kind(text)
    except ValueError:
        raise GalleryError(f"setting {name} takes a {kind.__name__}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise GalleryError(f"setting {name} takes a finite number, got {text!r}")
    return value


def apply_overrides(config, pairs):
    """Return a copy of ``config`` with ``["key=value", ...]`` applied and validated."""
    hints = typing.get_type_hints(type(config))
    known = sorted(hints)
    changes = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise GalleryError(f"--set takes key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        key = key.strip()
        if key not in hints:
            raise GalleryError(f"unknown setting {key!r}; known settings: {', '.join(known)}")
        changes[key] = _parse(key, value, hints[key])
    return dataclasses.replace(config, **changes).validate()


def config_from_dict(config_cls, values, where="config.json"):
    """Rebuild a config from ``config.json`` contents, ignoring keys it no longer has;
    a value of the wrong type or out of range is a one-line error naming ``where``."""
    if not isinstance(values, dict):
        raise GalleryError(f"{where} does not hold a JSON object of settings")
    hints = typing.get_type_hints(config_cls)
    kept = {}
    for key, value in values.items():
        if key not in hints:
            continue
        kind = hints[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise GalleryError(f"{where}: setting {key} holds {value!r}, not a {kind.__name__}")
        kept[key] = value
    try:
        return config_cls(**kept).validate()
    except GalleryError as error:
        raise GalleryError(f"{where}: {error}") from None
