"""Settings of the captioning task; each one can be changed with ``--set key=value``."""

import dataclasses

from gallery.config import TrainConfig, setting
from gallery.errors import GalleryError
from gallery.vision.encoders import KERAS_PREFIX, LITE0, check_tail_blocks

#: The validation score of photo captions (BLEU-4, ``photo_task.ValidationBleu``), and
#: what early stopping can watch (``early_stopping_on``).
VAL_BLEU = "val_bleu4"
EARLY_STOPPING_ON = ("val_loss", VAL_BLEU)


@dataclasses.dataclass
class CaptioningConfig(TrainConfig):
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 2e-3
    patience: int = 3
    cell: str = setting("lstm", "the decoder's cell")
    units: int = setting(128, "decoder state size")
    embedding_dim: int = setting(32, "word embedding size")
    filters: int = setting(24, "first conv block; doubled in each of the 3 blocks")
    attention: bool = setting(False, "decoder attends over the image's columns")
    dropout: float = setting(0.4, "on the image features")
    train_images: int = setting(12000, "composed from the training digits (embedded data)")
    val_images: int = setting(1000, "composed validation images (embedded data)")
    test_images: int = setting(2000, "composed from digits never used in training")
    height: int = setting(40, "image size the model sees (others are resized)")
    width: int = setting(112, "image width the model sees (pixels)")
    augment: bool = setting(False, "rotate/scale training digits a little (slower; no gain seen)")
    max_digits: int = setting(4, "digits per composed image: 1 to this")
    max_words: int = setting(12, "decoding stops after this many words")
    beam_width: int = setting(3, "1: greedy decoding")
    length_penalty: float = setting(0.0, "GNMT alpha for beam search; 0: none")
    encoder: str = setting("none", "photos: the pretrained image encoder (efficientnet_lite0 | "
                                   "keras:NAME); none: the house-number CNN")
    pretrained: bool = setting(True, "photos: start the encoder from its ImageNet weights")
    fine_tune_encoder_blocks: int = setting(0, "photos: train the encoder's last N blocks "
                                               "with the decoder (0: frozen; Lite0: 0-17)")
    feature_units: int = setting(512, "photos: the grid's features are projected to this size")
    attention_units: int = setting(256, "photos: hidden size of the soft attention")
    attention_gate: bool = setting(True, "photos: gate the context with a scalar beta")
    attention_regulariser: float = setting(0.02, "photos: lambda of the doubly stochastic "
                                                 "attention penalty; 0: none")
    label_smoothing: float = setting(0.0, "spread this share of each target word's probability "
                                          "over the vocabulary")
    min_word_count: int = setting(5, "photos: rarer words of the training captions are unknown")
    early_stopping_on: str = setting(
        "val_loss", "what early stopping and the learning-rate cut watch: val_loss, or "
                    "val_bleu4 (photos: BLEU-4 of the validation captions, every epoch)")

    def validate(self):
        super().validate()
        self.require_positive("train_images", "val_images", "test_images", "height", "width",
                              "max_digits", "max_words", "beam_width", "filters",
                              "embedding_dim")
        self.require_fraction("dropout", "label_smoothing")
        self.require_positive("feature_units", "attention_units", "min_word_count")
        if self.encoder not in ("none", LITE0) and not self.encoder.startswith(KERAS_PREFIX):
            raise GalleryError(f"setting encoder must be none, {LITE0} or "
                               f"{KERAS_PREFIX}NAME, not {self.encoder!r}")
        check_tail_blocks(self.encoder, self.fine_tune_encoder_blocks)
        if self.early_stopping_on not in EARLY_STOPPING_ON:
            raise GalleryError("setting early_stopping_on must be "
                               f"{' or '.join(EARLY_STOPPING_ON)}, not {self.early_stopping_on!r}")
        if self.early_stopping_on == VAL_BLEU and self.encoder == "none":
            raise GalleryError("early_stopping_on=val_bleu4 scores photo captions: it needs "
                               "an image encoder (--data flickr8k:DIR or captions:DIR)")
        if self.attention_regulariser < 0:
            raise GalleryError("setting attention_regulariser must be >= 0")
        if self.height < 8 or self.width < 8:
            raise GalleryError("settings height and width must be at least 8 pixels")
        return self


#: Named settings (``gallery train captioning --profile NAME``; ``--set`` wins).
#: ``photos`` is what ``--data flickr8k:DIR`` and ``--data captions:DIR`` train with.
PHOTOS = {"encoder": "efficientnet_lite0", "units": 1024, "embedding_dim": 512,
          "dropout": 0.5, "batch_size": 64, "learning_rate": 1e-3, "epochs": 12,
          "patience": 3, "lr_plateau_factor": 0.5, "max_words": 20, "beam_width": 3,
          "length_penalty": 1.0, "clipnorm": 5.0, "early_stopping_on": VAL_BLEU,
          "ema": 0.999, "label_smoothing": 0.1}
PROFILES = {
    "photos": PHOTOS,
    "photos_tiny": {**PHOTOS, "pretrained": False, "epochs": 2, "units": 16,
                    "embedding_dim": 8, "feature_units": 8, "attention_units": 8,
                    "min_word_count": 1, "batch_size": 8, "max_words": 8},
    "demo": {"epochs": 12, "train_images": 6000, "test_images": 500},
    "tiny": {"epochs": 2, "train_images": 256, "val_images": 64, "test_images": 64,
             "units": 16, "filters": 4, "embedding_dim": 8, "batch_size": 32},
}
