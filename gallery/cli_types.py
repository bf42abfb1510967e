"""Checks of command-line values, as argparse ``type=`` functions: a value out of its
range is refused while the command line is parsed, before anything starts, in one
line (``gallery: error: train: argument --cpu-devices: ...``, exit code 2).

Every number has both bounds: an unbounded flag lets a typo ask for unbounded work
(``--batch-size 10**30`` overflows ``itertools.islice``).
"""

import argparse
import math


def whole_number(low, high):
    """A ``type=`` function accepting the whole numbers from ``low`` to ``high``."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:,d} to {high:,d}, got {text}")
        return value
    return parse


def finite_number(low, high):
    """A ``type=`` function accepting the numbers from ``low`` to ``high`` (no NaN, no
    infinity)."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be a number from {low:g} to {high:g}, "
                                             f"got {text}")
        return value
    return parse
