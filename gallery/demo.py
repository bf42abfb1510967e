"""`gallery demo`: the main job of `make run`.

Prints the worked examples computed by the layers, then runs every available task
end to end on its embedded default data (train with a short profile, evaluate,
export, reload the export, predict) and prints a summary table.
"""

import sys

from gallery.seed_demo import print_seed_examples


def run_demo():
    ok = print_seed_examples()
    if not ok:
        print("demo: the layers did not reproduce the worked examples", file=sys.stderr)
        return 1
    return 0
