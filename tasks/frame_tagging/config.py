"""Settings of the frame-tagging task; each can be changed with ``--set key=value``."""

import dataclasses

from gallery.config import TrainConfig, setting
from gallery.errors import GalleryError


@dataclasses.dataclass
class FrameTaggingConfig(TrainConfig):
    epochs: int = 40
    batch_size: int = setting(16, "streams per batch")
    learning_rate: float = 3e-3
    patience: int = 6
    cell: str = "lstm"
    units: int = setting(64, "per direction")
    num_layers: int = setting(2, "stacked recurrent layers")
    bidirectional: bool = setting(True, "false: a causal model (each label sees only the past)")
    frame_encoder: str = setting("conv",
                                 "conv: each frame with its neighbours | dense: alone | cnn: a 2-D "
                                 "CNN per image (video)")
    conv_width: int = setting(5, "frames the convolution sees")
    frame_units: int = setting(64, "frame encoder width")
    filters: int = setting(32, "cnn: channels of its first convolution (doubled twice)")
    batch_norm: bool = setting(False, "cnn: batch-normalise each convolution")
    dropout: float = setting(0.2, "on the frame features and between recurrent layers")
    recurrent_dropout: float = setting(0.0, "on h_{t-1} in the recurrent layers (variational)")
    train_streams: int = setting(800, "streams stitched from the training recordings")
    val_streams: int = setting(80, "validation streams")
    test_streams: int = setting(200, "stitched from the test recordings only")
    min_length: int = setting(200, "steps per stream")
    max_length: int = setting(400, "longest stream (steps); lengths run from min_length")
    stream_chunk: int = setting(200, "causal model, predict: most frames run per chunk")
    stream_max_chunk: int = setting(1024, "causal model, export: most frames the stream "
                                    "signature and the TFLite stream model take per call")
    window: int = setting(0,
                          "> 0: train on windows of this many frames of long streams, and label "
                          "streams in overlapping windows")
    window_hop: int = setting(0, "frames between window starts (0: window / 2)")
    augment: bool = setting(False, "video: rotate/scale training digits a little")
    frame_size: int = setting(48, "tfds video: images resized to this height and width")
    ensemble: int = setting(1,
                            "independent branches (encoder, recurrent stack, classifier) trained "
                            "side by side, averaged")
    min_crop: int = setting(40, "steps taken from one recording")
    max_crop: int = setting(100, "longest crop from one recording (steps)")

    def validate(self):
        super().validate()
        self.require_positive("stream_chunk", "stream_max_chunk", "num_layers", "frame_units",
                              "train_streams", "val_streams", "test_streams", "min_length",
                              "min_crop", "frame_size", "ensemble", "filters")
        self.require_fraction("dropout", "recurrent_dropout")
        if self.window < 0 or self.window_hop < 0 or self.window_hop > self.window:
            raise GalleryError("settings window and window_hop must be >= 0 and "
                               "window_hop <= window")
        self.require_choice("frame_encoder", ("dense", "conv", "cnn"))
        if self.frame_encoder == "conv" and not self.bidirectional:
            raise GalleryError("a causal model (bidirectional=false) needs "
                               "--set frame_encoder=dense: the convolution looks at future frames")
        if self.ensemble > 1 and not self.bidirectional:
            raise GalleryError("setting ensemble > 1 needs bidirectional=true: a causal "
                               "model streams one recurrent stack")
        if self.max_length < self.min_length or self.max_crop < self.min_crop:
            raise GalleryError("settings max_length/max_crop must be >= min_length/min_crop")
        return self


#: Named settings (``gallery train frame_tagging --profile NAME``; ``--set`` wins).
#: ``video``, ``tfds`` and ``actrectut`` are what those data sets train with by default;
#: ``live`` is the causal model that streams (each label sees only the frames before it).
PROFILES = {
    "demo": {"epochs": 4, "train_streams": 120, "val_streams": 20, "test_streams": 40},
    "video": {"frame_encoder": "cnn", "frame_units": 128, "cell": "gru", "min_length": 12,
              "max_length": 30, "train_streams": 2000, "val_streams": 200,
              "test_streams": 500, "epochs": 10, "patience": 8},
    "tfds": {"frame_encoder": "cnn", "frame_units": 128, "min_length": 1, "max_length": 32,
             "train_streams": 2000, "val_streams": 200, "test_streams": 500},
    "actrectut": {"window": 256, "train_streams": 1600, "units": 128, "frame_units": 64,
                  "patience": 8},
    "live": {"bidirectional": False, "frame_encoder": "dense"},
    "tiny": {"epochs": 2, "train_streams": 40, "val_streams": 8, "test_streams": 8,
             "min_length": 40, "max_length": 80, "units": 8, "frame_units": 8,
             "learning_rate": 0.01},
}
