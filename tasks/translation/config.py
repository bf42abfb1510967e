"""Settings of the translation task; each can be changed with ``--set key=value``."""

import dataclasses

from gallery.config import TrainConfig
from gallery.errors import GalleryError
from gallery.layers.text import TOKEN_MODES
from gallery.seq2seq import ATTENTION_KINDS


@dataclasses.dataclass
class TranslationConfig(TrainConfig):
    epochs: int = 4               # exact on held-out dates after 4 (token accuracy 1.0 from 2)
    batch_size: int = 64
    learning_rate: float = 3e-3
    patience: int = 3
    cell: str = "gru"             # encoder and decoder cell
    units: int = 192              # decoder state; the encoder has units/2 per direction
    num_layers: int = 1           # encoder layers
    embedding_dim: int = 48       # token embedding size (source and target)
    dropout: float = 0.1          # on the source embeddings and between encoder layers
    attention: str = "bahdanau"   # bahdanau (additive) | luong (dot product) | none
    label_smoothing: float = 0.0  # spread this share of the target probability over all tokens
    source_tokens: str = "chars"  # chars | words | words_punct (TextVectorization splits)
    target_tokens: str = "chars"  # how target text is split: chars | words | words_punct
    max_source: int = 100         # source tokens kept; longer input is truncated
    max_target: int = 100         # decoding stops after this many tokens
    vocabulary_size: int = 12000  # most frequent tokens kept per language
    beam_width: int = 4           # 1: greedy decoding
    length_penalty: float = 0.6   # GNMT alpha for beam search; 0: none
    target: str = "de"            # embedded data: the target locale (de, fr, es, it, ...)
    source_lang: str = "de"       # parallel files: FILE.SOURCE_LANG → FILE.TARGET_LANG
    target_lang: str = "en"       # parallel files: the target language suffix
    train_pairs: int = 40000      # embedded data (and the cap for TFDS sets)
    val_pairs: int = 1000         # validation pairs (embedded data)
    test_pairs: int = 2000        # test pairs (embedded data)

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


#: Named settings (``gallery train translation --profile NAME``; ``--set`` wins).
#: ``sentences`` is what real sentences (Multi30k, parallel files, TFDS) train with.
PROFILES = {
    "demo": {"epochs": 6, "train_pairs": 6000, "val_pairs": 200, "test_pairs": 200,
             "units": 64, "beam_width": 2},
    "sentences": {"source_tokens": "words_punct", "target_tokens": "words_punct",
                  "max_source": 60, "max_target": 60, "units": 512, "embedding_dim": 256,
                  "dropout": 0.3, "vocabulary_size": 10000, "batch_size": 64,
                  "learning_rate": 2e-3, "label_smoothing": 0.1, "beam_width": 5,
                  "patience": 3, "epochs": 40},
    "tiny": {"epochs": 2, "train_pairs": 600, "val_pairs": 40, "test_pairs": 40, "units": 16,
             "embedding_dim": 8, "beam_width": 2, "max_target": 40},
}
