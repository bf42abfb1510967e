"""Pretrained image models for the photo tasks: EfficientNet-Lite0 converted from a
torch checkpoint read without torch (:mod:`gallery.vision.torch_legacy`,
:mod:`gallery.vision.efficientnet_lite`), and the encoders captioning chooses from
(:mod:`gallery.vision.encoders`)."""
