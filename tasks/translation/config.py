"""Settings of the translation task; each can be changed with ``--set key=value``."""

import dataclasses

from gallery.config import TrainConfig
from gallery.errors import GalleryError
from gallery.layers.text import TOKEN_MODES
from gallery.seq2seq import ATTENTION_KINDS


@dataclasses.dataclass
class TranslationConfig(TrainConfig):
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 3e-3
    patience: int = 3
    max_minutes: float = 9.5      # the default run fits the 10-minute budget
    cell: str = "gru"             # encoder and decoder cell
    units: int = 192              # decoder state; the encoder has units/2 per direction
    num_layers: int = 1           # encoder layers
    embedding_dim: int = 48
    dropout: float = 0.1
    attention: str = "bahdanau"   # bahdanau (additive) | luong (dot product) | none
    label_smoothing: float = 0.0
    source_tokens: str = "chars"  # chars | words | words_punct (TextVectorization splits)
    target_tokens: str = "chars"
    max_source: int = 100         # source tokens kept; longer input is truncated
    max_target: int = 100         # decoding stops after this many tokens
    vocabulary_size: int = 12000  # most frequent tokens kept per language
    beam_width: int = 4           # 1: greedy decoding
    length_penalty: float = 0.6   # GNMT alpha for beam search; 0: none
    target: str = "de"            # embedded data: the target locale (de, fr, es, it, ...)
    source_lang: str = "de"       # parallel files: FILE.SOURCE_LANG → FILE.TARGET_LANG
    target_lang: str = "en"
    train_pairs: int = 40000      # embedded data (and the cap for TFDS sets)
    val_pairs: int = 1000
    test_pairs: int = 2000

    def validate(self):
        super().validate()
        self.require_positive("embedding_dim", "num_layers", "max_source", "max_target",
                              "vocabulary_size", "beam_width", "train_pairs", "val_pairs",
                              "test_pairs")
        self.require_fraction("dropout", "label_smoothing")
        if self.attention not in ATTENTION_KINDS:
            raise GalleryError(f"setting attention must be one of {', '.join(ATTENTION_KINDS)}, "
                               f"got {self.attention!r}")
        for key in ("source_tokens", "target_tokens"):
            if getattr(self, key) not in TOKEN_MODES:
                raise GalleryError(f"setting {key} must be one of {', '.join(TOKEN_MODES)}, "
                                   f"got {getattr(self, key)!r}")
        if self.units < 2 or self.units % 2:
            raise GalleryError(f"setting units must be even (two encoder directions), "
                               f"got {self.units}")
        return self
