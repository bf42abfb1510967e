"""The hmlstm lesson's numbers: per-seed results summarised as mean ± sd, collapsed
layers named, and the table the lesson prints."""

import json

import numpy as np

from gallery.json_output import strict_json

from .common import print_table

#: A layer firing after fewer than this fraction of characters, or after all but this
#: fraction, has collapsed: it never (always) closes a segment.
COLLAPSE = 0.001


def collapsed_layers(rates):
    """1-based numbers of the layers whose boundary rate is 0 or 1 (within ``COLLAPSE``)."""
    return [k + 1 for k, r in enumerate(rates) if r < COLLAPSE or r > 1 - COLLAPSE]


def print_collapsed(name, seed, results):
    for layer in results["collapsed_layers"]:
        rate = results["boundary_rate"][layer - 1]
        print(f"[{name} seed {seed}] layer {layer} collapsed: boundary rate {rate:.4f} on "
              f"held-out text ({'never' if rate < 0.5 else 'always'} a boundary)", flush=True)


def seconds(times):
    """``(wall, cpu)`` seconds as printed: ``"81 s (CPU 79 s)"``."""
    wall, cpu = times
    return f"{wall:.0f} s (CPU {cpu:.0f} s)"


def metrics(results):
    """The numbers of one seed's ``results`` that the summary reports, by name."""
    values = {"bpc_hmlstm": results["bpc_hmlstm"]}
    if "bpc_lstm" in results:
        values["bpc_lstm"] = results["bpc_lstm"]
    for k, rate in enumerate(results["boundary_rate"]):
        values[f"rate_z{k + 1}"] = rate
    for key in ("precision", "recall", "f1"):
        values[f"{key}_z1"] = results["boundary_f1"][key]
    values["f1_random"] = results["random_f1"]["f1"]
    values["f1_over_random"] = (results["boundary_f1"]["f1"] / results["random_f1"]["f1"]
                                if results["random_f1"]["f1"] else 0.0)
    values["gold_rate"] = results["gold_rate"]
    return values


def summarise(per_seed):
    """``{metric: {"mean", "sd", "min", "max"}}`` over the seeds of ``per_seed``
    (``{seed: results}``); sd is the sample standard deviation (0 for one seed); and
    ``collapsed``: ``{seed: [layers]}`` for the seeds with a collapsed layer."""
    table = [metrics(r) for r in per_seed.values()]
    summary = {}
    for key in table[0]:
        values = np.array([row[key] for row in table], "float64")
        summary[key] = {"mean": float(values.mean()),
                        "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                        "min": float(values.min()), "max": float(values.max())}
    summary["collapsed"] = {seed: r["collapsed_layers"] for seed, r in per_seed.items()
                            if r["collapsed_layers"]}
    return summary


def _pm(stat, seeds, digits):
    return (f"{stat['mean']:.{digits}f} ± {stat['sd']:.{digits}f}" if seeds > 1
            else f"{stat['mean']:.{digits}f}")


def print_summary(summary, seeds):
    """The lesson's table: one row per text, mean ± sd over ``seeds`` seeds."""
    header = ["text", "bpc HM-LSTM", "bpc LSTM", "rate z1", "rate z2", "rate z3",
              "true rate", "F1 z1", "P / R z1", "F1 random", "F1 / random"]
    rows = []
    for name, m in summary.items():
        rows.append([name, _pm(m["bpc_hmlstm"], seeds, 3),
                     _pm(m["bpc_lstm"], seeds, 3) if "bpc_lstm" in m else "-",
                     *(_pm(m[f"rate_z{k}"], seeds, 2) for k in (1, 2, 3)),
                     f"{m['gold_rate']['mean']:.2f}", _pm(m["f1_z1"], seeds, 3),
                     f"{m['precision_z1']['mean']:.2f} / {m['recall_z1']['mean']:.2f}",
                     _pm(m["f1_random"], seeds, 3), _pm(m["f1_over_random"], seeds, 2)])
    if seeds > 1:
        print(f"mean ± sd over {seeds} seeds", flush=True)
    print_table(header, rows)
    for name, m in summary.items():
        for seed, layers in m["collapsed"].items():
            print(f"[{name}] seed {seed}: layer(s) {', '.join(map(str, layers))} collapsed",
                  flush=True)


def to_json(value):
    """``results.json``'s text: strict JSON, a diverged seed's NaN numbers as ``null``."""
    return json.dumps(strict_json(value), indent=2, allow_nan=False) + "\n"
