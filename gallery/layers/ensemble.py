"""Ensembles inside one model: ``K`` independent branches, stacked and averaged.

A task that trains ``K`` branches (each its own initialisation and its own loss) stacks
their per-class probabilities on a branch axis, ``(..., K, C)``, for training, and the
end-to-end model averages them, ``(..., C)``: the mean of the branches' probabilities
is the ensemble's prediction.
"""

import keras


@keras.saving.register_keras_serializable(package="gallery")
class StackBranches(keras.layers.Layer):
    """``K`` tensors ``(B, ..., C)`` → ``(B, ..., K, C)`` (a new axis before the last).

    The branches' Keras masks are dropped: the training loss of the stacked output is
    masked with sample weights, one per branch.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, inputs):
        return keras.ops.stack(list(inputs), axis=-2)

    def compute_output_shape(self, input_shape):
        first = tuple(input_shape[0])
        return (*first[:-1], len(input_shape), first[-1])


@keras.saving.register_keras_serializable(package="gallery")
class BranchMean(keras.layers.Layer):
    """``(B, ..., K, C)`` → ``(B, ..., C)``: the mean over the branch axis (``-2``)."""

    def call(self, inputs):
        return keras.ops.mean(inputs, axis=-2)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-2], input_shape[-1])
