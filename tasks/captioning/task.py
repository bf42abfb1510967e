"""The captioning task: what is specific to describing images with words."""

import io
import pathlib

import keras
import numpy as np
import tensorflow as tf

from gallery.data.epochs import EpochClock
from gallery.data.sources import parse_source
from gallery.errors import GalleryError
from gallery.images import check_image_size, decode_image_batch
from gallery.metrics import corpus_bleu, exact_match
from gallery.seq2seq import SmoothedSparseCrossentropy
from gallery.task import Task

from . import photo_task
from .config import PROFILES, VAL_BLEU, CaptioningConfig
from .data import load_captioning_data
from .model import END, START, UNKNOWN, Captioner, build_model, build_vocabulary
from .photo_model import build_photo_model
from .tflite_decoder import CaptioningDecoder


def png_bytes(pixels):
    """``(H, W, 1)`` float in [0, 1] → PNG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((np.clip(pixels[..., 0], 0, 1) * 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def read_image_files(names):
    """The bytes of each image file in ``names`` (``check_image_size``: one-line errors
    for a missing, unreadable or oversized image)."""
    return [check_image_size(name).read_bytes() for name in names]


class CaptioningTask(Task):
    name = "captioning"
    inputs_are_files = True
    tflite_decoder = CaptioningDecoder
    summary = "one-to-many: image → word sequence (house numbers from handwritten digits)"
    config_class = CaptioningConfig
    metric = "exact_match"
    monitor = "val_loss"
    model_meta_keys = ("vocabulary",)
    profiles = PROFILES

    def data_profile(self, source):
        kind, _ = parse_source(source)
        return "photos" if kind in photo_task.PHOTO_KINDS else None

    def monitored(self, config):
        if config.early_stopping_on == VAL_BLEU:
            return VAL_BLEU, "max"
        return self.monitor, "auto"

    def callbacks(self, config, model, splits):
        """Photos: the validation captions' BLEU-4 every epoch (``ValidationBleu``)."""
        if photo_task.is_photo_config(config):
            return [photo_task.ValidationBleu(config, model, splits.validation)]
        return []

    def load_data(self, config, source=None):
        kind, value = parse_source(source)
        if kind in photo_task.PHOTO_KINDS:
            return photo_task.load_data(config, kind, value)
        if photo_task.is_photo_config(config):
            raise GalleryError(f"encoder={config.encoder} captions photos: give them with "
                               "--data flickr8k:DIR or --data captions:DIR")
        splits = load_captioning_data(config, source)
        splits.meta["vocabulary"] = build_vocabulary(splits.train.captions)
        return splits

    def build_model(self, config, splits):
        if photo_task.is_photo_config(config):
            return build_photo_model(config, splits.meta["vocabulary"])
        return build_model(config, len(splits.meta["vocabulary"]))

    def model_for_settings(self, config, model):
        if photo_task.is_photo_config(config):
            return model.with_tuned_blocks(config.fine_tune_encoder_blocks)
        return model

    def prepare(self, config, model, splits, folder):
        if photo_task.is_photo_config(config):
            photo_task.prepare(config, model, splits, folder)

    def _encode(self, captions, vocabulary, max_words):
        index = {w: i for i, w in enumerate(vocabulary)}
        width = max_words + 1
        caption_in = np.zeros((len(captions), width), np.int32)
        caption_out = np.zeros((len(captions), width), np.int32)
        for row, caption in enumerate(captions):
            ids = [index.get(w, UNKNOWN) for w in caption.split()][:max_words]
            caption_in[row, :len(ids) + 1] = [START] + ids
            caption_out[row, :len(ids) + 1] = ids + [END]
        return caption_in, caption_out

    def datasets(self, config, model, splits, clock=None):
        if photo_task.is_photo_config(config):
            return photo_task.datasets(config, model, splits, clock)
        vocabulary = splits.meta["vocabulary"]
        validation = splits.validation
        cin, cout = self._encode(validation.captions, vocabulary, config.max_words)
        val = tf.data.Dataset.from_tensor_slices(((validation.images, cin), cout))
        return self._training_batches(config, splits.train, vocabulary, clock), \
            val.batch(config.batch_size).prefetch(2)

    def _training_batches(self, config, train, vocabulary, clock=None):
        """Shuffled batches; composed data is drawn anew for every epoch after the first."""
        clock = clock or EpochClock()

        def batches():
            epoch = clock.next_pass()
            data = train if epoch == 0 or train.fresh is None else \
                train.fresh(config.seed * 1000 + epoch)
            cin, cout = self._encode(data.captions, vocabulary, config.max_words)
            order = np.random.default_rng(config.seed + epoch).permutation(len(data))
            for start in range(0, len(order), config.batch_size):
                index = order[start:start + config.batch_size]
                yield (data.images[index], cin[index]), cout[index]
        width = config.max_words + 1
        signature = ((tf.TensorSpec((None, config.height, config.width, 1), tf.float32),
                      tf.TensorSpec((None, width), tf.int32)),
                     tf.TensorSpec((None, width), tf.int32))
        return tf.data.Dataset.from_generator(batches, output_signature=signature).prefetch(2)

    def compile_core(self, config, core, optimizer):
        core.compile(optimizer=optimizer,
                     loss=SmoothedSparseCrossentropy(config.label_smoothing, ignore_class=0),
                     metrics=[keras.metrics.SparseCategoricalAccuracy(name="word_accuracy")])

    def _captioner(self, config, model, meta):
        captioner = Captioner(model, meta["vocabulary"], config)
        return tf.function(captioner, input_signature=[
            tf.TensorSpec([None, config.height, config.width, 1], tf.float32)])

    def caption_pixels(self, config, model, meta, images, batch_size=256):
        captioner = self._captioner(config, model, meta)
        captions = []
        for start in range(0, len(images), batch_size):
            text, _ = captioner(tf.constant(images[start:start + batch_size]))
            captions += [t.decode() for t in text.numpy()]
        return captions

    def evaluate(self, config, model, data, meta):
        if photo_task.is_photo_config(config):
            return photo_task.evaluate(config, model, data, meta)
        predicted = self.caption_pixels(config, model, meta, data.images)
        return {"exact_match": exact_match(predicted, data.captions),
                "bleu": corpus_bleu(predicted, data.captions), "examples": len(data)}

    def serving_function(self, config, model, meta):
        if photo_task.is_photo_config(config):
            return photo_task.serving_function(config, model, meta)
        captioner = Captioner(model, meta["vocabulary"], config)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image")])
        def serve(image):
            pixels, ok = decode_image_batch(image, config.height, config.width)
            captions, scores = captioner(pixels)
            return {"caption": tf.where(ok, captions, ""),
                    "score": tf.where(ok, scores, float("-inf"))}
        return serve

    def extra_endpoints(self, config, model, meta):
        """``beams``: every caption of the final beam with its score, best first (the
        photo model's ``serving_default`` holds them)."""
        if photo_task.is_photo_config(config):
            return {}
        captioner = Captioner(model, meta["vocabulary"], config)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image")])
        def beams(image):
            pixels, ok = decode_image_batch(image, config.height, config.width)
            captions, scores = captioner.beams(pixels)
            return {"captions": tf.where(ok[:, None], captions, ""),
                    "scores": tf.where(ok[:, None], scores, float("-inf"))}
        return {"beams": beams}

    def tflite_models(self, config, model, meta):
        """``encoder``: pixels ``(1, H, W, 1)`` → the decoder's first states; ``step``:
        one word and the states → logits and new states (greedy decoding in Python)."""
        if photo_task.is_photo_config(config):
            return photo_task.tflite_models(config, model, meta)
        from gallery.export.tflite import step_model

        pixels = keras.Input((config.height, config.width, 1), batch_size=1, name="pixels")
        states = model.decoding_start(pixels)
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        step = step_model(model.decode_step_flat, "int32",
                          [(tuple(s.shape[1:]), s.dtype) for s in states])
        return {"encoder": keras.Model(pixels, states), "step": step}, {
            "target_vocabulary": meta["vocabulary"],
            "height": config.height, "width": config.width, "start_id": START,
            "end_id": END, "max_target": config.max_words + 1,
            "input_limits": {"step": {"token": model.word_embedding.input_dim}}}

    def serving_request(self, items, signature_inputs):
        return {"image": np.array(read_image_files(items), dtype=object)}

    def predict(self, config, model, meta, inputs):
        images = read_image_files(inputs)
        out = self.serving_function(config, model, meta)(tf.constant(images))
        return [{"image": name, "caption": c.decode(), "score": round(float(s), 4)}
                for name, c, s in zip(inputs, out["caption"].numpy(), out["score"].numpy())]

    def predict_examples(self, splits, folder):
        if splits.meta.get("photos"):
            return photo_task.predict_examples(splits, folder)
        paths = []
        for i, pixels in enumerate(splits.test.images[:2]):
            paths.append(pathlib.Path(folder) / f"test{i}.png")
            paths[-1].write_bytes(png_bytes(pixels))
        return [str(path) for path in paths]

    def demo_request(self, splits):
        if splits.meta.get("photos"):
            return photo_task.demo_request(splits)
        return {"image": tf.constant([png_bytes(p) for p in splits.test.images[:4]]
                                     + [b"not an image"])}

    def describe_response(self, request, response):
        for caption, score in zip(response["caption"].numpy(), response["score"].numpy()):
            yield f"{caption.decode()!r:30s} score {score:.3f}"

    def after_training(self, config, model, splits, run_dir):
        if photo_task.is_photo_config(config):
            return photo_task.after_training(config, model, splits, run_dir)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        count = min(12, len(splits.test))
        predicted = self.caption_pixels(config, model, splits.meta, splits.test.images[:count])
        fig, axes = plt.subplots(count // 3 or 1, 3, figsize=(10, 1.3 * (count // 3 or 1)),
                                 squeeze=False)
        for ax, image, truth, guess in zip(axes.ravel(), splits.test.images, splits.test.captions,
                                           predicted):
            ax.imshow(image[..., 0], cmap="gray")
            ax.set_title(f"{guess}\n(true: {truth})", fontsize=7,
                         color="green" if guess == truth else "red")
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(run_dir / "test_captions.png", dpi=100)
        plt.close(fig)
