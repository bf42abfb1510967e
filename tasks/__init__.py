"""One module per application; see tasks/base.py for the interface."""
