"""Streaming frame tagging through the SavedModel's ``stream`` signature: frames per
second, chunk by chunk, from the first frame to the last, and the streamed labels'
accuracy on the default test streams.

Loads the export of a causal run (``gallery train frame_tagging --profile live``) with
plain ``tf.saved_model.load`` and feeds ``--streams`` live streams at once (a batch of
``B`` rows, each its own stream and state), ``--chunk`` frames per stream per call,
until ``--frames`` frames are tagged in all. The frames are the embedded BasicMotions
test streams, joined and repeated. Prints the throughput of each tenth of the run
(flat = the cost of a chunk does not grow with the stream) and the ratio of the last
tenth to the first, in the same run; then the accuracy of the streamed labels on the
run's test streams (chunk by chunk, state carried) beside the run's own
``metrics.json`` (whole streams).

The reference in the same run: a SavedModel whose ``stream`` signature has the same
inputs and outputs and does no work (the state back, empty labels), saved and loaded the
same way and timed the same way. Its time per call is what one call costs before any
frame is tagged, so ``chunk / that time`` bounds what one stream can reach at that chunk.

    python benchmarks/frame_streaming.py --run runs/live --export saved_models/live/1
"""

import argparse
import json
import os
import pathlib
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gallery.runs import load_run  # noqa: E402


def cpu_model():
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def throughput(stream, frames, streams, chunk, total):
    """Frames per second in each tenth of ``total`` frames: ``streams`` rows of
    ``chunk`` frames per call, the state carried from call to call."""
    width = stream.structured_input_signature[1]["state"].shape[1]
    state = tf.zeros((streams, width))
    per_call = streams * chunk
    tenth = max(-(-total // (10 * per_call)), 1)  # calls per tenth: at least total frames
    # each row reads its own place of the joined test streams, wrapping around
    offsets = (np.arange(streams) * 997) % len(frames)
    index = (offsets[:, None] + np.arange(chunk)[None]) % len(frames)
    chunks = [tf.constant(frames[(index + k * chunk) % len(frames)]) for k in range(64)]
    stream(frames=chunks[0], state=state)  # warm up (the first call builds the graph)
    tenths, start = [], time.perf_counter()
    for call in range(tenth * 10):
        state = stream(frames=chunks[call % len(chunks)], state=state)["state"]
        if (call + 1) % tenth == 0:
            state.numpy()  # the work of this tenth is done
            now = time.perf_counter()
            tenths.append(tenth * per_call / (now - start))
            start = now
    return tenths, tenth * 10 * per_call


class _NoWork(tf.Module):
    """A ``stream`` signature with the real one's inputs and outputs that tags nothing."""

    def __init__(self, frame_shape, width, classes):
        super().__init__()
        self.classes = classes

        @tf.function(input_signature=[
            tf.TensorSpec([None, None, *frame_shape], tf.float32, name="frames"),
            tf.TensorSpec([None, width], tf.float32, name="state")])
        def stream(frames, state):
            shape = tf.shape(frames)
            return {"labels": tf.fill(shape[:2], ""),
                    "probabilities": tf.zeros(tf.concat([shape[:2], [self.classes]], 0)),
                    "state": tf.identity(state)}
        self.stream = stream


def no_work_stream(stream, folder):
    """``stream``'s inputs and outputs, no work: saved to ``folder`` and loaded back."""
    inputs = stream.structured_input_signature[1]
    classes = stream.structured_outputs["probabilities"].shape[-1]
    module = _NoWork(inputs["frames"].shape[2:], inputs["state"].shape[1], classes)
    tf.saved_model.save(module, folder, signatures={"stream": module.stream})
    return tf.saved_model.load(folder).signatures["stream"]


def streamed_accuracy(stream, task, config, meta, chunk):
    """Accuracy of the labels streamed chunk by chunk over the run's test streams."""
    splits = task.load_data(config, None)
    width = stream.structured_input_signature[1]["state"].shape[1]
    right = total = 0
    for frames, labels in zip(splits.test.frames, splits.test.labels):
        state, got = tf.zeros((1, width)), []
        for start in range(0, len(frames), chunk):
            answer = stream(frames=tf.constant(frames[None, start:start + chunk], tf.float32),
                            state=state)
            state = answer["state"]
            got += [v.decode() for v in answer["labels"].numpy()[0]]
        right += sum(g == y for g, y in zip(got, labels))
        total += len(labels)
    return right / total, len(splits.test.frames), total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="the causal run folder")
    parser.add_argument("--export", required=True, help="its SavedModel (gallery export)")
    parser.add_argument("--chunk", type=int, default=32, help="frames per stream per call")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 256],
                        help="live streams tagged at once (one row each)")
    parser.add_argument("--frames", type=int, default=1_000_000, help="frames in all")
    args = parser.parse_args(argv)

    task, config, _, meta = load_run(args.run, expected_task="frame_tagging")
    loaded = tf.saved_model.load(args.export)
    if "stream" not in loaded.signatures:
        raise SystemExit(f"{args.export} has no stream signature (a bidirectional run?)")
    stream = loaded.signatures["stream"]
    frames = np.concatenate(task.load_data(config, None).test.frames).astype(np.float32)
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average "
          f"{os.getloadavg()[0]:.1f}; chunks of {args.chunk} frames; export {args.export}")
    with tempfile.TemporaryDirectory() as folder:
        floor = no_work_stream(stream, folder)
        for streams in args.streams:
            total = args.frames if streams > 1 else min(args.frames, 100_000)
            tenths, done = throughput(stream, frames, streams, args.chunk, total)
            idle, _ = throughput(floor, frames, streams, args.chunk, total)
            call_us = 1e6 * streams * args.chunk / np.mean(idle)
            print(f"{streams:4d} streams: {done:,} frames, {np.mean(tenths):10,.0f} frames/s; "
                  f"per tenth: {' '.join(f'{v:,.0f}' for v in tenths)}; "
                  f"last/first tenth {tenths[-1] / tenths[0]:.2f}")
            print(f"      the same calls to a signature that does no work: {call_us:,.0f} us "
                  f"a call, so at most {np.mean(idle):,.0f} frames/s; the real calls take "
                  f"{np.mean(idle) / np.mean(tenths):.2f}x as long")
    accuracy, count, labelled = streamed_accuracy(stream, task, config, meta, args.chunk)
    metrics = json.loads((pathlib.Path(args.run) / "metrics.json").read_text())
    print(f"accuracy of the streamed labels (chunks of {args.chunk}) on the {count} test "
          f"streams ({labelled:,} frames): {accuracy:.4f}; the run's metrics.json (whole "
          f"streams): {metrics['accuracy']:.4f}")


if __name__ == "__main__":
    main()
