"""Recurrent layers written from their equations."""

from gallery.layers.cells import CELLS, ElmanCell, GRUCell, LSTMCell, RecurrentCell, make_cell
from gallery.layers.recurrent import Recurrent

__all__ = ["CELLS", "ElmanCell", "GRUCell", "LSTMCell", "Recurrent", "RecurrentCell", "make_cell"]
