"""The ``--data`` argument: embedded default, ``tfds:NAME``, or a local path."""

import pathlib

from gallery.errors import GalleryError


def parse_source(source):
    """``None``/``"default"`` → ``("default", None)``; ``"tfds:imdb_reviews"`` →
    ``("tfds", "imdb_reviews")``; ``"kind:VALUE"`` → ``(kind, VALUE)`` for other known
    prefixes; anything else → ``("path", Path)``."""
    if source in (None, "", "default"):
        return "default", None
    text = str(source)
    prefix, sep, rest = text.partition(":")
    if sep and prefix.isidentifier() and len(prefix) > 1:
        if not rest:
            raise GalleryError(f"--data {text!r} names no data set after '{prefix}:'")
        return prefix, rest
    return "path", pathlib.Path(text)


def load_tfds(name, splits, as_supervised=True, **kwargs):
    """``tfds.load(..., with_info=True)``; a clear error when it cannot load.

    Downloads only when the data set is not prepared locally (never in tests, which
    use ``tfds.testing.mock_data``).
    """
    import tensorflow_datasets as tfds

    try:
        return tfds.load(name, split=splits, as_supervised=as_supervised, with_info=True,
                         **kwargs)
    except Exception as error:  # tfds raises many kinds; the user needs one line
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise GalleryError(f"could not load TFDS data set {name!r}: {first}") from None
