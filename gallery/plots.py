"""Plots written to run folders (matplotlib, no screen needed)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def training_curves(history, path, title=""):
    """Loss and every metric per epoch, training and validation, one panel each."""
    names = [k for k in history if not k.startswith("val_")]
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = range(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], marker="o", label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def label_timelines(pairs, names, path):
    """One strip per stream: true labels above, predicted below, one colour per label."""
    fig, axes = plt.subplots(len(pairs), 1, figsize=(12, 1.3 * len(pairs) + 0.6), squeeze=False)
    cmap = plt.get_cmap("tab10", max(len(names), 1))
    for ax, (true, predicted) in zip(axes[:, 0], pairs):
        ax.imshow([true, predicted], aspect="auto", cmap=cmap, vmin=-0.5,
                  vmax=len(names) - 0.5, interpolation="nearest")
        ax.set_yticks([0, 1], ["true", "predicted"])
    axes[-1, 0].set_xlabel("step")
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(i)) for i in range(len(names))]
    fig.legend(handles, names, loc="upper center", ncol=len(names), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def attention_heatmaps(items, path):
    """One panel per sentence: attention weights ``(T, S)`` of each output token (rows)
    over the source tokens (columns). ``items``: ``[(source_tokens, output_tokens,
    weights), ...]``."""
    fig, axes = plt.subplots(1, len(items), figsize=(5.5 * len(items), 5), squeeze=False)
    for ax, (source, output, weights) in zip(axes[0], items):
        ax.imshow(weights, cmap="viridis", aspect="auto", vmin=0)
        ax.set_xticks(range(len(source)), source, rotation=90, fontsize=7)
        ax.set_yticks(range(len(output)), output, fontsize=7)
        ax.set_xlabel("source")
        ax.set_ylabel("output")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def caption_attention(pixels, captions, alphas, grid, path, max_words=8):
    """One row per photo: the photo with its caption, then, for each of the first
    ``max_words`` words, the photo under the attention ``α`` of the step that wrote it
    (upsampled from the ``grid = (h, w)`` cells, brighter = more weight).

    ``pixels (N, H, W, 3)`` in 0..255, ``captions`` N strings, ``alphas (N, L, h·w)``."""
    import numpy as np

    columns = 1 + max_words
    fig, axes = plt.subplots(len(captions), columns, figsize=(1.6 * columns, 1.8 * len(captions)),
                             squeeze=False)
    for row, (image, caption, alpha) in enumerate(zip(pixels, captions, alphas)):
        image = np.clip(image / 255.0, 0, 1)
        axes[row, 0].imshow(image)
        axes[row, 0].set_title(caption if len(caption) < 40 else caption[:37] + "...",
                               fontsize=6, loc="left")
        words = caption.split()[:max_words]
        for col in range(1, columns):
            ax = axes[row, col]
            ax.axis("off")
            if col - 1 >= len(words):
                continue
            ax.imshow(image)
            heat = alpha[col - 1].reshape(grid)
            ax.imshow(heat, cmap="gray", alpha=0.6, extent=(0, image.shape[1], image.shape[0], 0),
                      interpolation="bilinear")
            ax.set_title(words[col - 1], fontsize=7)
        axes[row, 0].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
