"""Frame tagging (synced many-to-many): one label for every frame of a stream.

Frames are sensor readings ``(T, C)`` or video images ``(T, H, W, C)``; the model's
``meta["frame_shape"]`` says which (``[C]`` or ``[H, W, C]``).
"""

import json
import pathlib

import keras
import numpy as np
import tensorflow as tf

from gallery import plots
from gallery.data.epochs import EpochClock
from gallery.data.files import decoded_chunks, load_npy, require_file, split_lines, without_line_end
from gallery.data.padding import pad_right
from gallery.data.sources import parse_source
from gallery.errors import GalleryError
from gallery.metrics import confusion_matrix, macro_f1, segmental_f1, segments
from gallery.task import Task

from .config import PROFILES, FrameTaggingConfig
from .data import StreamRows, load_frame_data, read_stream_csv
from .model import build_model, frame_shape, one_stream_tagger
from .streaming import FrameStreamer, cannot_stream, streaming_probabilities
from .tflite_decoder import FrameTaggingDecoder


def read_stream_file(path, shape):
    """A stream file → ``(T, *shape)`` float32. ``.npy``: an array ``(T, C)``, or for
    video ``(T, H, W, C)`` (``(T, H, W)`` for one channel). ``.csv`` (sensor streams):
    one frame per line, ``C`` numbers; a header line is skipped; empty fields are NaN
    (served as the channel mean)."""
    path, channels = pathlib.Path(path), shape[-1]
    what = "frames" if len(shape) == 1 else "images"
    require_file(path, "stream file")
    if path.suffix == ".npy":
        frames = load_npy(path)
    elif len(shape) == 1:
        frames, _ = read_stream_csv(path)
        if len(frames) == 0:
            frames = np.zeros((0, channels), np.float32)
    else:
        raise GalleryError(f"{path}: a video stream is read from a .npy file of images "
                           f"(T, {', '.join(map(str, shape))})")
    frames = np.asarray(frames)
    if frames.dtype.kind not in "biuf":  # complex, strings, dates: not frames
        raise GalleryError(f"{path}: expected real numbers, got an array of {frames.dtype}")
    frames = frames.astype(np.float32)
    if len(shape) == 3 and shape[-1] == 1 and frames.ndim == 3:
        frames = frames[..., None]
    if frames.shape[1:] != tuple(shape):
        raise GalleryError(f"{path}: expected {what} of shape {tuple(shape)} (T, "
                           f"{', '.join(map(str, shape))}), got shape {frames.shape}")
    return frames


def windowed_probabilities(predict, frames, window, hop):
    """Per-frame probabilities ``(T, K)`` of one long stream ``(T, ...)`` from
    overlapping windows of ``window`` frames, ``hop`` apart (the last one ends at the
    stream's end). Each window's output is weighted with a Hann window (frames near a
    window's edges have seen less context) and the weighted outputs are averaged.
    ``predict(list of arrays)`` → list of ``(T_i, K)`` arrays."""
    if len(frames) <= window:
        return predict([frames])[0]
    starts = list(range(0, len(frames) - window, hop)) + [len(frames) - window]
    weight = np.hanning(window + 2)[1:-1]
    total, norm = None, np.zeros(len(frames))
    for first in range(0, len(starts), 16):
        batch = starts[first:first + 16]
        for start, p in zip(batch, predict([frames[s:s + window] for s in batch])):
            if total is None:
                total = np.zeros((len(frames), p.shape[-1]))
            total[start:start + window] += weight[:, None] * p
            norm[start:start + window] += weight
    return (total / norm[:, None]).astype(np.float32)


def label_ids(labels, names):
    """Label strings → ids in ``names`` (the model's labels); unknown ones: an error."""
    index = {name: i for i, name in enumerate(names)}
    try:
        return np.array([index[v] for v in labels], np.int32)
    except KeyError as error:
        raise GalleryError(f"label {error.args[0]!r} is not one of the model's labels "
                           f"{names}; rename it with --label-map") from None


class FrameTaggingTask(Task):
    name = "frame_tagging"
    inputs_are_files = True
    tflite_decoder = FrameTaggingDecoder
    summary = "synced many-to-many: sensor stream or video → one label per frame"
    config_class = FrameTaggingConfig
    metric = "accuracy"
    monitor = "val_loss"
    model_meta_keys = ("channels", "frame_shape", "mean", "std")
    profiles = PROFILES
    data_licence = ("BasicMotions recordings as shipped in the aeon wheel (its licence is in "
                    "data_packages; the recordings keep their authors' terms)")
    data_packages = ("aeon",)

    def data_profile(self, source):
        kind, _ = parse_source(source)
        kind = "video" if source == "video" else kind
        return kind if kind in ("video", "tfds", "actrectut") else None

    def load_data(self, config, source=None):
        return load_frame_data(config, source)

    def check_data(self, meta, splits):
        super().check_data(meta, splits)
        if frame_shape(splits.meta) != frame_shape(meta):
            raise GalleryError(f"the data's frames have shape {list(frame_shape(splits.meta))}; "
                               f"the model reads frames of shape {list(frame_shape(meta))}")

    def build_model(self, config, splits):
        return build_model(config, splits.meta)

    # -- training batches ---------------------------------------------------------------
    def _normalised(self, frames, meta):
        x = (frames - np.array(meta["mean"], np.float32)) / np.array(meta["std"], np.float32)
        return np.where(np.isfinite(x), x, 0.0).astype(np.float32)

    def _batches(self, streams, meta, batch_size, order):
        shape = frame_shape(meta)
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            x, lengths = pad_right([streams.frames[i] for i in index], np.float32, shape)
            mask = np.arange(x.shape[1])[None] < lengths[:, None]
            y = np.zeros(mask.shape, np.int32)
            for row, i in enumerate(index):
                y[row, :lengths[row]] = label_ids(streams.labels[i], meta["labels"])
            keep = mask.reshape(mask.shape + (1,) * len(shape))
            yield (self._normalised(x, meta) * keep, mask), y, mask.astype(np.float32)

    def remap_labels(self, model, meta, new_labels):
        raise GalleryError(f"frame tagging cannot learn new labels by fine-tuning yet; map "
                           f"yours onto the model's {meta['labels']} with --label-map "
                           "old=new, or train a new model with --data DIR")

    def datasets(self, config, model, splits, clock=None):
        clock = clock or EpochClock()
        meta, shape = splits.meta, frame_shape(splits.meta)
        for part in (splits.train, splits.validation):
            if any(f.shape[1:] != shape for f in part.frames):
                raise GalleryError(f"the streams must have the model's frame shape {shape}")
        signature = ((tf.TensorSpec((None, None, *shape), tf.float32),
                      tf.TensorSpec((None, None), tf.bool)),
                     tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None, None), tf.float32))

        def train():
            epoch = clock.next_pass()
            streams = splits.train.fresh(epoch) if splits.train.fresh else splits.train
            order = np.random.default_rng([config.seed, epoch]).permutation(len(streams))
            yield from self._batches(streams, meta, config.batch_size, order)

        def validation():
            yield from self._batches(splits.validation, meta, config.batch_size,
                                     np.arange(len(splits.validation)))
        def per_branch(x, y, weights):  # an ensemble's core gives (B, T, E, K): one target each
            return (x, tf.repeat(y[..., None], config.ensemble, -1),
                    tf.repeat(weights[..., None], config.ensemble, -1))
        out = [tf.data.Dataset.from_generator(g, output_signature=signature)
               for g in (train, validation)]
        if config.ensemble > 1:
            out = [ds.map(per_branch) for ds in out]
        return tuple(ds.prefetch(2) for ds in out)

    def compile_core(self, config, core, optimizer):
        core.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                     weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])

    # -- evaluation -----------------------------------------------------------------------
    def stream_probabilities(self, config, model, meta, frames_list, batch_size=16):
        """Per-frame probabilities ``(T_i, K)`` of each stream; with ``config.window``
        a stream longer than the window is labelled in overlapping windows."""
        shape = frame_shape(meta)

        def predict(streams):
            out = []
            for start in range(0, len(streams), batch_size):
                x, lengths = pad_right(streams[start:start + batch_size], np.float32, shape)
                p = np.asarray(model([tf.constant(x), tf.constant(lengths)], training=False))
                out += [p[i, :n] for i, n in enumerate(lengths)]
            return out
        if not config.window:
            return predict(frames_list)
        hop = config.window_hop or max(config.window // 2, 1)
        return [windowed_probabilities(predict, f, config.window, hop) for f in frames_list]

    def label_streams(self, config, model, meta, frames_list):
        """Per-frame class ids of each stream (``(T_i,)`` arrays)."""
        return [p.argmax(-1) for p in self.stream_probabilities(config, model, meta, frames_list)]

    def evaluate(self, config, model, data, meta):
        predicted = self.label_streams(config, model, meta, data.frames)
        true_ids = [label_ids(y, meta["labels"]) for y in data.labels]
        true = np.concatenate(true_ids)
        flat = np.concatenate(predicted)
        matrix = confusion_matrix(true, flat, len(meta["labels"]))
        return {"accuracy": float((true == flat).mean()), "macro_f1": macro_f1(matrix),
                "segmental_f1_iou50": float(np.mean([segmental_f1(t, p) for t, p in
                                                     zip(true_ids, predicted)])),
                "confusion_matrix": matrix.tolist(), "frames": int(true.size),
                "streams": len(data)}

    def after_training(self, config, model, splits, run_dir):
        """``timeline.png``: true and predicted labels of a few test streams."""
        streams = splits.test.frames[:4]
        predicted = self.label_streams(config, model, splits.meta, streams)
        true = [label_ids(y, splits.meta["labels"]) for y in splits.test.labels[:4]]
        plots.label_timelines(list(zip(true, predicted)),
                              splits.meta["labels"], run_dir / "timeline.png")

    # -- serving and prediction ----------------------------------------------------------
    def serving_function(self, config, model, meta):
        names = tf.constant(meta["labels"])

        @tf.function(input_signature=[
            tf.TensorSpec([None, None, *frame_shape(meta)], tf.float32, name="frames"),
            tf.TensorSpec([None], tf.int32, name="lengths")])
        def serve(frames, lengths):
            probabilities = model([frames, lengths], training=False)
            valid = tf.sequence_mask(tf.clip_by_value(lengths, 0, tf.shape(frames)[1]),
                                     tf.shape(frames)[1])
            labels = tf.gather(names, tf.argmax(probabilities, axis=-1))
            return {"labels": tf.where(valid, labels, ""), "probabilities": probabilities}
        return serve

    def extra_endpoints(self, config, model, meta):
        """``stream`` for a causal model (:mod:`.streaming`): a chunk of frames and the
        state the previous call returned → the chunk's labels and the new state."""
        if cannot_stream(model):
            return {}
        return {"stream": FrameStreamer(model, meta["labels"],
                                        config.stream_max_chunk).signature()}

    def missing_endpoints(self, config, model, meta):
        reason = cannot_stream(model)
        return {"stream": reason} if reason else {}

    def tflite_models(self, config, model, meta):
        """``tag``: a whole stream of up to ``max_length`` frames, its loop over the
        stream's own length; for a causal model
        also ``stream``: one frame and every layer's states → its probabilities and the
        new states (the cells once each, no loop)."""
        models = {"tag": one_stream_tagger(model, frame_shape(meta))}
        info = {"labels": meta["labels"], "frames": config.max_length,
                "frame_shape": list(frame_shape(meta)),
                "input_limits": {"tag": {"lengths": config.max_length + 1}}}
        if not cannot_stream(model):
            from gallery.export.tflite import step_model

            streamer = FrameStreamer(model, meta["labels"], config.stream_max_chunk)
            sizes = streamer.sizes
            models["stream"] = step_model(streamer.step, "float32", [(s,) for s in sizes],
                                          name="stream", token_shape=frame_shape(meta),
                                          token_name="frames")
            info["stream"] = {"tag": streamer.tag, "state_sizes": sizes,
                              "max_chunk": config.stream_max_chunk}
        return models, info

    def serving_request(self, items, signature_inputs):
        shape = signature_inputs["frames"][1][2:]
        frames, lengths = pad_right([read_stream_file(p, shape) for p in items], np.float32,
                                    shape)
        return {"frames": frames, "lengths": lengths}

    def predict(self, config, model, meta, inputs):
        """Labelled segments per stream file; a causal model reads each stream in chunks
        of ``stream_chunk`` frames (any length, bounded memory)."""
        frames = [read_stream_file(path, frame_shape(meta)) for path in inputs]
        if config.bidirectional:
            labelled = self.label_streams(config, model, meta, frames)
        else:
            labelled = [streaming_probabilities(model, f, config.stream_chunk).argmax(-1)
                        for f in frames]
        rows = []
        for path, f, ids in zip(inputs, frames, labelled):
            rows.append({"file": str(path), "frames": int(len(f)),
                         "segments": [[meta["labels"][k], s, e] for k, s, e in segments(ids)]})
        return rows

    stdin_is_one_stream = True

    def predict_stream(self, config, model, meta, source, out, limit):
        """``gallery predict frame_tagging --model RUN --input -``: the frames of one live
        stream from ``source``, one frame per line as in a ``.csv`` stream file (``C``
        numbers; a header line is skipped, empty fields are NaN), labelled as they
        arrive: whatever complete lines one read gives, up to ``stream_chunk`` frames,
        run as one chunk with the state carried over, then one JSON line per frame
        (``{"frame": t, "label": ..., "probability": ...}``) written and flushed."""
        if cannot_stream(model):
            raise GalleryError(cannot_stream(model))
        channels = frame_shape(meta)
        if len(channels) != 1:
            raise GalleryError("stdin takes sensor frames, one per line; a video model "
                               "reads its streams from .npy files (--input FOLDER)")
        streamer = FrameStreamer(model, meta["labels"], config.stream_chunk)
        run, rows = streamer.signature(), StreamRows("stdin")
        pending, state, done = [], streamer.start_state(1), 0

        def flush():
            nonlocal state, done
            while pending:
                chunk = np.array(pending[:config.stream_chunk], np.float32)[None]
                del pending[:config.stream_chunk]
                answer = run(tf.constant(chunk), tf.constant(state))
                state = answer["state"]
                probabilities = answer["probabilities"].numpy()[0]
                for p in probabilities:
                    k = int(p.argmax())
                    out.write(json.dumps({"frame": done, "label": meta["labels"][k],
                                          "probability": round(float(p[k]), 6)}) + "\n")
                    done += 1
                out.flush()

        def chunks():  # flush before waiting for more input: labels come as frames do
            for text in decoded_chunks(source):
                yield text
                flush()

        lines = map(without_line_end, split_lines(chunks(), "stdin", limit))
        for number, line in enumerate(lines, 1):
            parsed = rows.parse(number, line)
            if parsed is None:
                continue
            if len(parsed[0]) != channels[0]:
                raise GalleryError(f"stdin:{number}: {len(parsed[0])} numbers; the model "
                                   f"reads frames of {channels[0]} channels")
            pending.append(parsed[0])
            if len(pending) >= config.stream_chunk:
                flush()
        flush()

    def predict_examples(self, splits, folder):
        paths = []
        for i, frames in enumerate(splits.test.frames[:2]):
            paths.append(pathlib.Path(folder) / f"stream{i}.npy")
            np.save(paths[-1], np.asarray(frames, np.float32))
        return [str(path) for path in paths]

    def demo_request(self, splits):
        x, lengths = pad_right(splits.test.frames[:2], np.float32, frame_shape(splits.meta))
        return {"frames": tf.constant(x), "lengths": tf.constant(lengths)}

    def describe_response(self, request, response):
        for labels, n in zip(response["labels"].numpy(), request["lengths"].numpy()):
            names = [v.decode() for v in labels[:n]]
            ids = np.unique(names, return_inverse=True)[1]
            runs = [f"{names[s]} {s}-{e}" for _, s, e in segments(ids)]
            yield f"{n} frames: " + ", ".join(runs[:6]) + (" ..." if len(runs) > 6 else "")
