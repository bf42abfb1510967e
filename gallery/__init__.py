"""rnn-gallery: recurrent-network applications on Keras 3 / TensorFlow."""

import os

# Keep TensorFlow's C++ start-up chatter (CUDA probes, oneDNN notes) out of the CLI.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
