"""Pretrained image models for the photo tasks: EfficientNet-Lite0 converted from a
torch checkpoint read without torch (:mod:`gallery.vision.torch_legacy`,
:mod:`gallery.vision.efficientnet_lite`), the encoders captioning chooses from
(:mod:`gallery.vision.encoders`), and a frozen encoder run by TFLite for fast feature
extraction (:mod:`gallery.vision.tflite_encoder`)."""
