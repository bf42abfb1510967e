"""Settings of the sentiment task; each one can be changed with ``--set key=value``."""

import dataclasses

from gallery.config import TrainConfig, setting
from gallery.errors import GalleryError


@dataclasses.dataclass
class SentimentConfig(TrainConfig):
    patience: int = 3
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 2e-3
    cell: str = "lstm"
    units: int = setting(64, "per direction")
    num_layers: int = setting(1, "stacked recurrent layers")
    bidirectional: bool = setting(True, "read the text both ways (outputs concatenated)")
    embedding_dim: int = setting(0, "learned embedding size; 0: fixed features only")
    pretrained: bool = setting(True, "add MiniLM word vectors (gallery/data/word_vectors.py)")
    tune_pretrained: bool = setting(False, "let training change those vectors")
    extend_vocabulary: bool = setting(True, "also keep words known only to those vectors/lexicons")
    lexicon: bool = setting(True, "add fixed word-sentiment priors (tasks/sentiment/lexicon.py)")
    dropout: float = setting(0.3, "on embeddings, between layers and before the classifier")
    recurrent_dropout: float = setting(0.2,
                                       "on h_{t-1} in the recurrent layers (variational); 0.2 won "
                                       "on validation: best val accuracy 0.7947 vs 0.7697 with 0.0 "
                                       "(docs/layers.md)")
    max_tokens: int = setting(20000, "vocabulary size, padding and unknown included")
    max_length: int = setting(100, "tokens kept per text (reviews are cut, not dropped)")
    ensemble: int = setting(1, "independent branches (encoder + classifier), averaged")
    pooling: str = setting("max", "max | mean | last: how steps become one vector")
    bucket_boundaries: str = setting("8,16,24,32,48,64",
                                     "token lengths that split training buckets")
    train_examples: int = setting(0, "train on the first N training examples only; 0: all")

    def validate(self):
        super().validate()
        self.require_choice("pooling", ("max", "mean", "last"))
        self.require_fraction("dropout", "recurrent_dropout")
        if self.embedding_dim < 0:
            raise GalleryError(f"setting embedding_dim must be 0 or more, got {self.embedding_dim}")
        if not (self.embedding_dim or self.pretrained or self.lexicon):
            raise GalleryError("no word features: set embedding_dim > 0, pretrained or lexicon")
        self.require_positive("num_layers", "max_length", "ensemble")
        if self.train_examples < 0:
            raise GalleryError(f"setting train_examples must be >= 0, got {self.train_examples}")
        if self.max_tokens < 3:
            raise GalleryError(f"setting max_tokens must be at least 3, got {self.max_tokens}")
        self.boundaries()
        return self

    def boundaries(self):
        try:
            values = [int(v) for v in self.bucket_boundaries.split(",") if v.strip()]
        except ValueError:
            raise GalleryError("setting bucket_boundaries takes comma-separated integers, "
                               f"got {self.bucket_boundaries!r}") from None
        if values != sorted(set(values)) or any(v <= 0 for v in values):
            raise GalleryError("setting bucket_boundaries must be increasing positive integers, "
                               f"got {self.bucket_boundaries!r}")
        return values


#: Named settings (``gallery train sentiment --profile NAME``; ``--set`` wins).
PROFILES = {
    "demo": {"epochs": 3},
    "tiny": {"epochs": 2, "units": 8, "embedding_dim": 8, "pretrained": False,
             "extend_vocabulary": False, "max_tokens": 2000, "train_examples": 800,
             "batch_size": 32, "learning_rate": 0.01, "dropout": 0.0},
}
