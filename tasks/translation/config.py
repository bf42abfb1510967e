"""Settings of the translation task; each can be changed with ``--set key=value``."""

import dataclasses

from gallery.config import TrainConfig, setting
from gallery.errors import GalleryError
from gallery.layers.text import TOKEN_MODES
from gallery.seq2seq import ATTENTION_KINDS


@dataclasses.dataclass
class TranslationConfig(TrainConfig):
    epochs: int = setting(4, "exact on held-out dates after 4 (token accuracy 1.0 from 2)")
    batch_size: int = 64
    learning_rate: float = 3e-3
    patience: int = 3
    cell: str = setting("gru", "encoder and decoder cell")
    units: int = setting(192, "decoder state; the encoder has units/2 per direction")
    num_layers: int = setting(1, "encoder layers")
    embedding_dim: int = setting(48, "token embedding size (source and target)")
    dropout: float = setting(0.1, "on the source embeddings and between encoder layers")
    attention: str = setting("bahdanau", "bahdanau (additive) | luong (dot product) | none")
    label_smoothing: float = setting(0.0,
                                     "spread this share of the target probability over all tokens")
    source_tokens: str = setting("chars", "chars | words | words_punct (TextVectorization splits)")
    target_tokens: str = setting("chars", "how target text is split: chars | words | words_punct")
    max_source: int = setting(100, "source tokens kept; longer input is truncated")
    max_target: int = setting(100, "decoding stops after this many tokens")
    vocabulary_size: int = setting(12000, "most frequent tokens kept per language")
    beam_width: int = setting(4, "1: greedy decoding")
    length_penalty: float = setting(0.6, "GNMT alpha for beam search; 0: none")
    target: str = setting("de", "embedded data: the target locale (de, fr, es, it, ...)")
    source_lang: str = setting("de", "parallel files: FILE.SOURCE_LANG → FILE.TARGET_LANG")
    target_lang: str = setting("en", "parallel files: the target language suffix")
    train_pairs: int = setting(40000, "embedded data (and the cap for TFDS sets)")
    val_pairs: int = setting(1000, "validation pairs (embedded data)")
    test_pairs: int = setting(2000, "test pairs (embedded data)")

    def validate(self):
        super().validate()
        self.require_positive("embedding_dim", "num_layers", "max_source", "max_target",
                              "vocabulary_size", "beam_width", "train_pairs", "val_pairs",
                              "test_pairs")
        self.require_fraction("dropout", "label_smoothing")
        self.require_choice("attention", ATTENTION_KINDS)
        self.require_choice("source_tokens", TOKEN_MODES)
        self.require_choice("target_tokens", TOKEN_MODES)
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
