"""`gallery train --strategy`: mirrored over two logical CPUs, and two local workers.

Each distributed run must end with the weights and metrics of the single-device run
with the same global batch and seed (dropout off: replicas draw their own masks).
"""

import json
import socket
import subprocess

import numpy as np
import pytest
from conftest import TINY_SENTIMENT, write_review_file
from test_fault_tolerance import final_weights, gallery_command, subprocess_env

TOLERANCE = 1e-5  # float32 sums over replicas in another order

SETTINGS = TINY_SENTIMENT + ["epochs=2", "dropout=0.0"]


def train_command(data, out, *extra):
    args = ["train", "sentiment", "--data", str(data), "--out", str(out), *extra]
    for item in SETTINGS:
        args += ["--set", item]
    return gallery_command(*args)


@pytest.fixture(scope="module")
def single_device_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("single")
    data = write_review_file(folder / "reviews.tsv", rows=600)
    subprocess.run(train_command(data, folder / "run"), env=subprocess_env(), check=True,
                   capture_output=True, timeout=600)
    return data, folder / "run"


def assert_same_run(a, b):
    for x, y in zip(final_weights(a), final_weights(b), strict=True):
        np.testing.assert_allclose(x, y, atol=TOLERANCE)
    ha = json.loads((a / "history.json").read_text())
    hb = json.loads((b / "history.json").read_text())
    for key in ha:
        np.testing.assert_allclose(ha[key], hb[key], atol=TOLERANCE, err_msg=key)
    ma = json.loads((a / "metrics.json").read_text())
    mb = json.loads((b / "metrics.json").read_text())
    assert ma["accuracy"] == mb["accuracy"]
    assert ma["loss"] == pytest.approx(mb["loss"], abs=TOLERANCE)


@pytest.mark.slow  # three trainings in subprocesses
def test_mirrored_on_two_cpu_devices_matches_one_device(single_device_run, tmp_path):
    data, single = single_device_run
    run = tmp_path / "mirrored"
    result = subprocess.run(train_command(data, run, "--strategy", "mirrored",
                                          "--cpu-devices", "2"),
                            env=subprocess_env(), check=True, capture_output=True,
                            text=True, timeout=600)
    assert "2 replicas" in result.stdout
    assert_same_run(single, run)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow  # three trainings in subprocesses
def test_two_local_workers_match_one_device(single_device_run, tmp_path):
    data, single = single_device_run
    run = tmp_path / "multiworker"
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers},
                                "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            train_command(data, run, "--strategy", "multiworker"),
            env=subprocess_env(TF_CONFIG=tf_config), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    try:
        outputs = [p.communicate(timeout=600) for p in processes]
    finally:
        for p in processes:
            p.kill()
            p.wait()
    for p, (out, err) in zip(processes, outputs):
        assert p.returncode == 0, err[-2000:]
        assert "2 replicas" in out
    assert "run folder" in outputs[0][0]  # the chief writes it
    assert not (run / "checkpoint").exists()
    assert_same_run(single, run)


# default tier: test_bad_inputs.py's multiworker-without-tf-config case (in the one
# process that runs every refused command line)
@pytest.mark.slow
def test_multiworker_without_tf_config_is_a_clear_error(tmp_path):
    result = subprocess.run(train_command(tmp_path / "x.tsv", tmp_path / "run",
                                          "--strategy", "multiworker"),
                            env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        "gallery: error: --strategy multiworker needs the TF_CONFIG")
