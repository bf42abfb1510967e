"""The gallery's Keras layers.

Exported here: the recurrent cells written from their equations (``ElmanCell``,
``LSTMCell``, ``GRUCell``, ``make_cell``), the one time loop ``Recurrent``, and the
hierarchical ``HMLSTM``. The other modules hold the layers the tasks build with:
``attention`` (a decoder's attention over a memory), ``pooling`` (masked pooling),
``text`` (``TextToIds``: raw strings → ids inside the model), ``frames`` (per-frame
encoders, normalisation), ``ensemble`` (branches averaged), ``stack`` (recurrent
encoders from settings) and ``fused`` (the fused time loops ``Recurrent`` runs).
"""

from gallery.layers.cells import CELLS, ElmanCell, GRUCell, LSTMCell, RecurrentCell, make_cell
from gallery.layers.hmlstm import HMLSTM, HMLSTMCell, SlopeAnnealing
from gallery.layers.recurrent import Recurrent

__all__ = ["CELLS", "ElmanCell", "GRUCell", "LSTMCell", "Recurrent", "RecurrentCell", "make_cell"]
__all__ += ["HMLSTM", "HMLSTMCell", "SlopeAnnealing"]
