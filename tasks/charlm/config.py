"""Settings of the character language model; each can be changed with ``--set key=value``."""

import dataclasses

from gallery.config import TrainConfig, setting
from gallery.errors import GalleryError


@dataclasses.dataclass
class CharLMConfig(TrainConfig):
    epochs: int = 7
    batch_size: int = setting(32, "parallel text streams; each one's state is carried on")
    seq_length: int = setting(100, "BPTT truncation: characters per chunk (gradient horizon)")
    learning_rate: float = 3e-3
    cell: str = "lstm"
    units: int = setting(256, "state size of each recurrent layer")
    num_layers: int = setting(1, "stacked recurrent layers")
    embedding_dim: int = setting(32, "character embedding size")
    dropout: float = setting(0.0, "on the recurrent layers' inputs")
    clipnorm: float = setting(1.0, "clip each gradient's norm: long BPTT chains can explode")
    patience: int = 2
    max_chars: int = setting(1_200_000, "of the embedded corpus (Python standard library source)")
    temperature: float = setting(0.8, "sampling: lower is more conservative, 0 is greedy")
    sample_length: int = setting(300, "characters generated per prime")
    sample_seed: int = setting(0, "the same seed gives the same sample")

    def validate(self):
        super().validate()
        self.require_positive("seq_length", "num_layers", "embedding_dim", "max_chars")
        self.require_fraction("dropout")
        if self.sample_length < 0 or self.temperature < 0:
            raise GalleryError("settings sample_length and temperature must be >= 0")
        return self


#: Named settings (``gallery train charlm --profile NAME``; ``--set`` wins).
PROFILES = {
    "demo": {"epochs": 3, "max_chars": 200000, "units": 128, "sample_length": 60},
    "tiny": {"epochs": 2, "max_chars": 20000, "units": 32, "embedding_dim": 8,
             "batch_size": 4, "seq_length": 20, "sample_length": 12, "learning_rate": 0.01},
}
