"""What the command line prints is strict JSON: every reader accepts it."""

import math


def strict_json(value):
    """``value`` with every NaN/inf float as ``None``: what the CLI prints is strict JSON
    (``null``), which every JSON reader accepts (``-Infinity`` is not JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value
