"""The gallery's Keras layers.

Exported here: the recurrent cells written from their equations (``ElmanCell``,
``LSTMCell``, ``GRUCell``, ``make_cell``), the one time loop ``Recurrent``, the
hierarchical ``HMLSTM``, and every layer the tasks build with: ``TextToIds`` (raw
strings → ids inside the model), ``MaskedPooling``, ``FrameNormalizer``, ``WithMask``,
``PerFrame``, ``StackBranches``, ``BranchMean``, ``recurrent_encoder``. Other modules:
``attention`` (a decoder's attention over a memory), ``fused`` (the fused time
loops ``Recurrent`` runs) and ``keras_builtin`` (a model's cells swapped for Keras's
built-in ones with the same weights: the reference benchmarks compare with).

Every class here registers itself with Keras (``package="gallery"``) where it is
defined, so a model saved with them loads once this package is imported.
"""

from gallery.layers.cell_base import RecurrentCell
from gallery.layers.cells import CELLS, ElmanCell, GRUCell, LSTMCell, make_cell
from gallery.layers.ensemble import BranchMean, StackBranches
from gallery.layers.frames import FrameNormalizer, PerFrame, WithMask
from gallery.layers.hmlstm import HMLSTM, HMLSTMCell, SlopeAnnealing
from gallery.layers.pooling import MaskedPooling
from gallery.layers.recurrent import Recurrent, StateCarrier
from gallery.layers.soft_attention import ShowAttendTell
from gallery.layers.stack import recurrent_encoder
from gallery.layers.text import TextToIds

__all__ = [
    "CELLS", "BranchMean", "ElmanCell", "FrameNormalizer", "GRUCell", "HMLSTM", "HMLSTMCell",
    "LSTMCell", "MaskedPooling", "PerFrame", "Recurrent", "RecurrentCell", "ShowAttendTell",
    "SlopeAnnealing",
    "StackBranches", "StateCarrier", "TextToIds", "WithMask", "make_cell", "recurrent_encoder",
]
