"""Recurrent layers written from their equations."""

from gallery.layers.cells import CELLS, ElmanCell, GRUCell, LSTMCell, RecurrentCell, make_cell
from gallery.layers.hmlstm import HMLSTM, HMLSTMCell, SlopeAnnealing
from gallery.layers.recurrent import Recurrent

__all__ = ["CELLS", "ElmanCell", "GRUCell", "LSTMCell", "Recurrent", "RecurrentCell", "make_cell"]
__all__ += ["HMLSTM", "HMLSTMCell", "SlopeAnnealing"]
