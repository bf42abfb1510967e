"""Small helpers the lessons share: a plain-text table and line-plot panels."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def print_table(header, rows):
    """Print ``rows`` under ``header``, columns padded to their widest entry."""
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)), flush=True)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)), flush=True)


def line_plot_panels(path, panels, title=""):
    """One figure, one panel per ``(title, {label: (x, y)}, xlabel, yscale)``."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (name, lines, xlabel, yscale) in zip(axes[0], panels):
        for label, (x, y) in lines.items():
            ax.plot(x, y, label=label, marker="." if len(x) <= 40 else None)
        if yscale:
            ax.set_yscale(yscale)
        ax.set_title(name)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
