"""Test set-up: quiet TensorFlow, fixed seeds, the shared data folder."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402

SHARED_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


@pytest.fixture
def shared_data():
    """``../shared/data`` or a clean skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


def built_once(tmp_path_factory, name, build):
    """``build(folder)`` run once for the whole test session and its path returned.

    Under pytest-xdist every worker holds its own session fixtures, so a tiny run would
    be trained once per worker. Here the first worker to ask builds into its own folder
    while holding a lock in the folder the workers share, and writes a marker naming
    that folder; the others wait for the lock and reuse it (they only read it). A build
    that fails writes no marker, so the next worker builds again into its own folder.
    """
    import fcntl

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # gw0, gw1, ... share the parent folder
        shared = shared.parent
    marker = shared / f"{name}.built"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if marker.is_file():
            return pathlib.Path(marker.read_text())
        folder = build(tmp_path_factory.mktemp(name))
        marker.write_text(str(folder))
        return folder


def cli_train(task, run, settings, data=None):
    """``gallery train TASK [--data DATA] --out RUN --set ...`` through the CLI; returns RUN."""
    from gallery.cli import main

    args = ["train", task, "--out", str(run)] + (["--data", str(data)] if data else [])
    for item in settings:
        args += ["--set", item]
    assert main(args) == 0
    return run


#: The tasks whose tiny presets the tests build (sentiment prunes its vocabulary; charlm
#: is the activations lesson's model and the demo's live run): about 10 s of CPU.
PRESET_TASKS = ("sentiment", "charlm")


@pytest.fixture(scope="session")
def preset_root(tmp_path_factory):
    """A folder of tiny presets (:data:`PRESET_TASKS`), built once for the session
    through ``gallery presets build``'s code; tests only read it."""
    from gallery import presets

    def build(folder):
        presets.build(list(PRESET_TASKS), profile="tiny", root=folder / "presets", verbose=0)
        return folder / "presets"
    return built_once(tmp_path_factory, "presets", build)


@pytest.fixture
def use_presets(preset_root, monkeypatch):
    """``GALLERY_PRESETS_DIR`` pointing at the tiny presets (read-only for the test)."""
    from gallery.preset_store import ROOT_ENV

    monkeypatch.setenv(ROOT_ENV, str(preset_root))
    return preset_root


POSITIVE = ["great", "wonderful", "superb", "moving", "brilliant", "charming", "delightful"]
NEGATIVE = ["awful", "boring", "dull", "terrible", "weak", "tedious", "clumsy"]
FILLER = ["the", "film", "was", "plot", "acting", "story", "really", "quite", "and", "its"]


def write_review_file(path, rows=240, seed=0, labels=("neg", "pos"), delimiter="\t"):
    """A small, learnable labelled-text file: the label follows the sentiment words."""
    import random

    rng = random.Random(seed)
    lines = [f"text{delimiter}label"]
    for _ in range(rows):
        good = rng.random() < 0.5
        words = rng.sample(FILLER, 4) + rng.sample(POSITIVE if good else NEGATIVE, 2)
        rng.shuffle(words)
        lines.append(f"{' '.join(words)}{delimiter}{labels[1] if good else labels[0]}")
    path.write_text("\n".join(lines) + "\n")
    return path


TINY_SENTIMENT = ["epochs=3", "units=8", "embedding_dim=8", "max_tokens=200",
                  "extend_vocabulary=false", "batch_size=16", "learning_rate=0.01",
                  "dropout=0.0", "recurrent_dropout=0.0", "patience=5"]


@pytest.fixture(scope="session")
def tiny_sentiment_run(tmp_path_factory):
    """A small sentiment model trained through the CLI on a synthetic file."""

    def build(folder):
        return cli_train("sentiment", folder / "run", TINY_SENTIMENT,
                         write_review_file(folder / "reviews.tsv"))
    return built_once(tmp_path_factory, "sentiment", build)


TINY_CAPTIONING = ["epochs=2", "train_images=256", "val_images=64", "test_images=64",
                   "units=16", "filters=4", "embedding_dim=8", "batch_size=32"]


@pytest.fixture(scope="session")
def tiny_captioning_run(tmp_path_factory):
    """A small captioning model trained through the CLI on the embedded house numbers."""
    return built_once(tmp_path_factory, "captioning",
                      lambda folder: cli_train("captioning", folder / "run", TINY_CAPTIONING))


def write_caption_folder(folder, count=12, seed=0, dark_on_light=False):
    """A user-style folder: captions.tsv and PNG files of composed house numbers."""
    import numpy as np
    from PIL import Image

    from rnn_gallery.tasks.captioning.data import compose, mnist_digits

    digits, labels = mnist_digits()
    data = compose(digits[::7], labels[::7], count, seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["filename\tcaption"]
    for i, (image, caption) in enumerate(zip(data.images, data.captions)):
        pixels = (image[..., 0] * 255).astype(np.uint8)
        Image.fromarray(255 - pixels if dark_on_light else pixels).save(folder / f"img{i}.png")
        lines.append(f"img{i}.png\t{caption}")
    (folder / "captions.tsv").write_text("\n".join(lines) + "\n")
    return data


PHOTO_WORDS = ["a dog runs on the grass", "a red ball lies on the floor",
               "two people walk in a park", "a cat sleeps on a bed"]


def write_photo_folder(folder, count=12, seed=0):
    """A user-style folder of photos: ``captions.csv`` (``image,caption``, two captions
    per image) and random RGB JPEG and PNG files of different sizes."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["image,caption"]
    for i in range(count):
        name = f"photo{i}.{'jpg' if i % 2 else 'png'}"
        pixels = rng.integers(0, 256, (40 + 3 * i, 56, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / name)
        lines += [f"{name},{PHOTO_WORDS[(i + j) % 4]}" for j in range(2)]
    (folder / "captions.csv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="session")
def tiny_photo_run(tmp_path_factory):
    """A tiny photo captioning model (``photos_tiny``, random encoder weights) trained
    through the CLI on a generated folder of photos; its data source is in meta.json."""

    def build(folder):
        data = f"captions:{write_photo_folder(folder / 'photos')}"
        from gallery.cli import main

        assert main(["train", "captioning", "--profile", "photos_tiny", "--data", data,
                     "--out", str(folder / "run")]) == 0
        return folder / "run"
    return built_once(tmp_path_factory, "photo_captioning", build)


TINY_CHARLM = ["epochs=2", "units=32", "embedding_dim=8", "batch_size=4", "seq_length=20",
               "sample_length=12", "learning_rate=0.01"]


def write_code_text(path, chars=6000):
    """A small, very regular Python-like text for the character model."""
    path.write_text(("def add(a, b):\n    return a + b\n\n" * 400)[:chars])
    return path


@pytest.fixture(scope="session")
def tiny_charlm_run(tmp_path_factory):
    """A small character model trained through the CLI on a repetitive text file."""

    def build(folder):
        return cli_train("charlm", folder / "run", TINY_CHARLM,
                         write_code_text(folder / "code.txt"))
    return built_once(tmp_path_factory, "charlm", build)


def serve_in_fresh_process(script, export_dir, stdin=""):
    """Run ``script`` (Python source; ``sys.argv[1]`` is ``export_dir``) in a new
    interpreter started outside the repository, so nothing of ours can be imported;
    return the JSON object its last stdout line prints."""
    import json
    import os
    import pathlib
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", script, str(export_dir)], input=stdin,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                            cwd=pathlib.Path(export_dir).anchor)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


THIRD_PARTY = pathlib.Path(__file__).parent / "third_party" / "gallery_toy"


@pytest.fixture(scope="session")
def third_party_path(tmp_path_factory):
    """tests/third_party/gallery_toy installed by pip into a temporary folder (a task
    that lives outside this repository), that folder added to ``sys.path``: its
    ``majority`` task is found through its ``rnn_gallery.tasks`` entry point only.
    Installed once for the session (every worker shares the folder; nobody writes it)."""
    import shutil
    import subprocess
    import sys

    def install(folder):
        source = folder / "source" / "gallery_toy"  # pip builds in place
        shutil.copytree(THIRD_PARTY, source, ignore=shutil.ignore_patterns("__pycache__"))
        target = folder / "site"
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--no-build-isolation", "--no-index", "--target", str(target),
                        str(source)], check=True, capture_output=True, timeout=300)
        return target
    target = built_once(tmp_path_factory, "third_party", install)
    sys.path.append(str(target))
    yield target
    sys.path.remove(str(target))


#: Headless Chromium, as root in a container, touching no network by itself.
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--window-size=1400,1000")


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Debian's Chromium driven by Selenium through its chromedriver (nothing downloaded),
    with a fresh profile; or a clean skip saying what is missing."""
    import shutil

    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[dev]')")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.skip("no chromium/chromedriver on PATH (`make system-deps` installs Debian's "
                    "chromium and chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console, for get_log
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    yield driver
    driver.quit()


TINY_TRANSLATION = ["epochs=3", "train_pairs=1500", "val_pairs=60", "test_pairs=60",
                    "units=32", "embedding_dim=16", "beam_width=2", "max_target=60"]


@pytest.fixture(scope="session")
def tiny_translation_run(tmp_path_factory):
    """A small translation model trained through the CLI on the embedded pairs."""
    return built_once(tmp_path_factory, "translation",
                      lambda folder: cli_train("translation", folder / "run", TINY_TRANSLATION))


TINY_FRAME_TAGGING = ["epochs=5", "learning_rate=0.01", "train_streams=40", "val_streams=8",
                      "test_streams=8", "units=16", "frame_units=16", "num_layers=1",
                      "min_length=60", "max_length=120"]


@pytest.fixture(scope="session")
def tiny_frame_tagging_run(tmp_path_factory):
    """A small frame-tagging model trained through the CLI on the embedded motions."""
    return built_once(tmp_path_factory, "frames",
                      lambda folder: cli_train("frame_tagging", folder / "run",
                                               TINY_FRAME_TAGGING))


def _exported_once(request, tmp_path_factory, export_format, name):
    """``export(TASK)``: ``gallery export TASK --format EXPORT_FORMAT`` of the tiny TASK
    run into ``name.format(task=TASK)``, run once for the whole session (every worker
    shares it)."""
    from gallery.cli import main

    def export(task):
        def build(folder):
            run = request.getfixturevalue(f"tiny_{task}_run")
            out = folder / name.format(task=task)
            assert main(["export", task, "--model", str(run), "--format", export_format,
                         "--out", str(out)]) == 0
            return out
        return built_once(tmp_path_factory, f"export-{task}-{export_format}", build)
    return export


@pytest.fixture(scope="session")
def task_export(request, tmp_path_factory):
    """``task_export(TASK)``: the SavedModel of the tiny TASK run (exported once; never
    written into)."""
    return _exported_once(request, tmp_path_factory, "savedmodel", "{task}/1")


@pytest.fixture(scope="session")
def task_tflite(request, tmp_path_factory):
    """``task_tflite(TASK)``: the TFLite model of the tiny TASK run, its side file beside
    it (exported once; tests that change it change a copy)."""
    return _exported_once(request, tmp_path_factory, "tflite", "{task}.tflite")



#: Test files whose tests each train and export models of their own: under pytest-xdist
#: (``make test``: ``-n 3 --dist loadfile``) their tests are handed out one by one and
#: before every other file, so the workers share them instead of one worker running
#: the whole file at the end while the other has finished.
SPLIT_BY_TEST = ("tests/test_contract.py",)


def _file_of(item):
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    """The order work is handed out in: :data:`SPLIT_BY_TEST`'s tests first, then the
    other files, those with more tests first (pytest-xdist's own order for
    ``loadfile``), each file's tests in their order. Every worker collects the same
    order, which the scheduler below keeps."""
    counts = {}
    for item in items:
        counts[_file_of(item)] = counts.get(_file_of(item), 0) + 1
    items.sort(key=lambda item: (_file_of(item) not in SPLIT_BY_TEST,
                                 -counts[_file_of(item)], _file_of(item)))


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` with :data:`SPLIT_BY_TEST`'s files split into one unit per
    test; every other file stays one unit on one worker (its module fixtures built
    once). Units go out in collection order (``pytest_collection_modifyitems``). Other
    ``--dist`` modes are xdist's own."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SplitHeavyFiles(LoadFileScheduling):
        def _split_scope(self, nodeid):
            file = nodeid.split("::", 1)[0]
            return nodeid if file in SPLIT_BY_TEST else file

    config.option.loadscopereorder = False  # the collection's order is the order
    return SplitHeavyFiles(config, log)
