"""User-facing errors: one line, no traceback, CLI exit code 2."""


class GalleryError(Exception):
    """A problem with the user's input (data, settings, paths), stated in one line."""
