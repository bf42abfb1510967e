"""Streaming through a causal frame tagger's TFLite export (its ``stream`` part): NumPy
only, no TensorFlow.

The ``stream`` model takes one frame ``(1, C)`` and every layer's states
``state0 … stateN`` (each ``(1, size)``) and returns the frame's probabilities
``(1, K)`` and the new states; :meth:`StreamDecoding.stream` runs it over a chunk of
frames. The state a caller keeps between chunks is the vector of
``tasks/frame_tagging/streaming.py``, ``[tag, state0, …, stateN]`` ``(1 + S,)``, so a
TFLite state and a SavedModel ``stream`` state of the same weights are the same thing.
"""

import numpy as np


class StreamDecoding:
    """The streaming half of the frame-tagging TFLite decoder (``self.model``,
    ``self.info`` as :class:`~gallery.export.tflite_runtime.TFLiteDecoder` has them)."""

    def _stream_info(self):
        info = self.info.get("stream")
        if info is None:
            raise ValueError("this export cannot stream: its model is bidirectional (each "
                             "label reads the frames after it); export a causal run "
                             "(gallery train frame_tagging --profile live)")
        return info

    def start_state(self):
        """The state a new stream starts from: zeros ``(1 + S,)``."""
        return np.zeros(1 + sum(self._stream_info()["state_sizes"]), np.float32)

    def _checked_state(self, state, info):
        width = 1 + sum(info["state_sizes"])
        state = np.asarray(state)
        if state.shape != (width,) or state.dtype.kind not in "iuf":
            raise ValueError(f"state: this model's state is {width} numbers (shape ({width},)), "
                             f"got shape {state.shape} of {state.dtype}")
        state = state.astype(np.float32)
        if not np.isfinite(state).all():
            raise ValueError("state: holds NaN or infinity")
        if state[0] != info["tag"] and state.any():
            raise ValueError(f"state: not a state of this model (its first value must be "
                             f"this model's tag {info['tag']}, as stream() returned it; a "
                             "new stream starts from start_state())")
        return state

    def stream(self, frames, state=None):
        """One chunk of a stream: ``frames (L, C)`` (1 ≤ L ≤ ``max_chunk``) and the state
        the previous call returned (``None``: a new stream) → ``(answer, new state)``;
        ``answer`` holds the chunk's ``labels`` and ``probabilities`` ``(L, K)``."""
        info = self._stream_info()
        state = self.start_state() if state is None else self._checked_state(state, info)
        frames = np.asarray(frames, np.float32)
        shape = tuple(self.info["frame_shape"])
        if frames.ndim != 1 + len(shape) or frames.shape[1:] != shape:
            raise ValueError(f"this model streams chunks of frames of shape (L, "
                             f"{', '.join(map(str, shape))}), got {frames.shape}")
        if not 1 <= len(frames) <= info["max_chunk"]:
            raise ValueError(f"a chunk holds 1 to {info['max_chunk']} frames, got "
                             f"{len(frames)}")
        ends = np.cumsum([1, *info["state_sizes"]])
        states = [state[None, a:b] for a, b in zip(ends[:-1], ends[1:])]
        out = []
        for frame in frames:
            probabilities, *states = self.model.run(
                "stream", frames=frame[None], **{f"state{i}": s for i, s in enumerate(states)})
            out.append(probabilities[0])
        probabilities = np.array(out)
        new_state = np.concatenate([[np.float32(info["tag"])], *[s[0] for s in states]])
        labels = self.info["labels"]
        return {"labels": [labels[k] for k in probabilities.argmax(-1)],
                "probabilities": probabilities}, new_state.astype(np.float32)
