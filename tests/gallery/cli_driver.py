"""Many ``gallery`` command lines in one real process: each case through
``gallery.cli.main`` with file descriptors 1 and 2 pointed at fresh files, so a case's
exit code, stdout and stderr are what the command gives (the first case pays the
TensorFlow import, as the command would); one Python start-up instead of one a case."""

import json
import subprocess
import sys

DRIVER = r"""
import json, os, resource, sys, tempfile, traceback
from gallery.cli import main

results = []
for case in json.load(open(sys.argv[1])):
    saved_env = dict(os.environ)
    os.environ.update(case["env"])
    os.chdir(case["cwd"])
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    saved = os.dup(1), os.dup(2)
    sys.stdout.flush(); sys.stderr.flush()
    os.dup2(out.fileno(), 1); os.dup2(err.fileno(), 2)
    try:
        code = main(case["argv"])
    except SystemExit as exit:
        code = exit.code
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush(); sys.stderr.flush()
    os.dup2(saved[0], 1); os.dup2(saved[1], 2)
    os.environ.clear(); os.environ.update(saved_env)
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.seek(0)
    err.seek(0)
    results.append({"code": code, "stdout": out.read().decode("utf-8", "replace"),
                    "stderr": err.read().decode("utf-8", "replace"), "maxrss_kb": maxrss_kb})
json.dump(results, open(sys.argv[2], "w"))
"""


def run_cases(cases, folder, env, cwd):
    """``[{"code", "stdout", "stderr", "maxrss_kb"}]`` of ``cases`` (``{"argv", "env",
    "cwd"}`` each) run by one driver process started in ``cwd`` with ``env`` and an
    empty stdin; the driver's own stderr must be empty. ``folder`` holds the spec and
    the results."""
    spec, out = folder / "cases.json", folder / "results.json"
    spec.write_text(json.dumps(cases))
    done = subprocess.run([sys.executable, "-c", DRIVER, str(spec), str(out)], cwd=cwd,
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0 and not done.stderr, done.stderr[-3000:]
    return json.loads(out.read_text())
