"""The hmlstm lesson's picture, after the paper's Figure 3: held-out text, each layer's
boundaries marked under it, and the true word (or token) ends for comparison."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

SHOWN = {"\n": "↵", "\t": "→"}
COLOURS = ["#1f4e9c", "#2e8b57", "#b8860b"]


def _rows_for(panel, width):
    text = panel["text"]
    return [(start, min(start + width, len(text))) for start in range(0, len(text), width)]


def boundary_figure(path, panels, width=80):
    """One block per panel: ``{"title", "text", "gold", "gold_label", "z" (len(text), L)}``.

    Under each row of ``width`` characters: the true boundaries (grey) and one line per
    layer (``z^1`` nearest the text); a filled cell under a character means the boundary
    fired after reading it.
    """
    num_layers = panels[0]["z"].shape[1]
    lines_per_row = 2 + num_layers + 0.6  # text, gold, layers, gap
    total = sum(len(_rows_for(p, width)) * lines_per_row + 1.5 for p in panels)
    fig, ax = plt.subplots(figsize=(0.125 * width + 1.4, 0.23 * total + 0.3))
    y = 0.0
    for panel in panels:
        ax.text(-7, y, panel["title"], fontsize=10, fontweight="bold", va="center")
        y -= 1.3
        for start, end in _rows_for(panel, width):
            for x, ch in enumerate(panel["text"][start:end]):
                ax.text(x, y, SHOWN.get(ch, ch), family="monospace", fontsize=9,
                        ha="center", va="center")
            marks = [(panel["gold_label"], panel["gold"], "#999999")] + [
                (f"z{'¹²³⁴⁵'[k] if k < 5 else k + 1}", panel["z"][:, k], COLOURS[k % 3])
                for k in range(num_layers)]
            for offset, (label, values, colour) in enumerate(marks, start=1):
                row_y = y - offset
                ax.text(-0.8, row_y, label, fontsize=7, ha="right", va="center", color=colour)
                for x, v in enumerate(values[start:end]):
                    if v:
                        ax.add_patch(Rectangle((x - 0.45, row_y - 0.35), 0.9, 0.7,
                                               color=colour, linewidth=0))
            y -= lines_per_row
        y -= 0.2
    ax.set_xlim(-7.5, width)
    ax.set_ylim(y + 0.5, 0.8)
    ax.axis("off")
    fig.tight_layout(pad=0.2)
    fig.savefig(path, dpi=100)
    plt.close(fig)
