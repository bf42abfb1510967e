"""Translation data: dates and numbers from localisation data (embedded), or parallel text.

Embedded default (offline): English → ``target`` (``de`` by default; any locale both
``babel`` and ``num2words`` know, e.g. ``fr``, ``es``, ``it``, ``nl``) translations of
- dates from 1900-01-01 to 2099-12-31, each written in one of four English forms
  (CLDR via ``babel``: ``Tuesday, January 5, 2021``, ``January 5, 2021``,
  ``Jan 5, 2021`` and the British ``5 January 2021``), translated to the target's
  full form when the source has the weekday (``Dienstag, 5. Januar 2021``) and its
  long form otherwise (``5. Januar 2021``);
- whole numbers below one million written as English words (``num2words``:
  ``three hundred and twelve``) → the target's words (``dreihundertzwölf``).
Half the pairs are dates, half numbers. The dates and numbers are split before any
pair is written (85 % / 5 % / 10 % of the days; numbers by a seeded draw), so no
test date or number appears in training in any form. Deterministic from the seed.

Also: ``--data multi30k:DIR`` (or ``parallel:DIR``): parallel text files, ``DIR``
holding ``train.SRC.gz``/``train.TGT.gz`` (or ``.txt``) and ``val.*``, ``test*.*``
files, line i of one the translation of line i of the other (Multi30k's layout;
``source_lang``/``target_lang`` settings pick the languages); and ``--data
tfds:NAME`` for TFDS translation sets (``ted_hrlr_translate/pt_to_en``,
``wmt14_translate/de-en``; downloads unless prepared; tested with mock data).
"""

import dataclasses
import datetime
import pathlib

import numpy as np

from gallery.data.files import require_file, text_lines
from gallery.data.sources import load_tfds, parse_source
from gallery.errors import GalleryError
from gallery.task import Splits

FIRST_DAY, LAST_DAY = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)
SOURCE_FORMATS = (("en_US", "full"), ("en_US", "long"), ("en_US", "medium"), ("en_GB", "long"))


@dataclasses.dataclass
class Parallel:
    """``sources[i]`` translates to ``targets[i]`` (lists of strings)."""

    sources: list
    targets: list

    def __len__(self):
        return len(self.sources)


def _libraries():
    try:
        from babel.dates import format_date
        from num2words import num2words
    except ImportError:
        raise GalleryError("the embedded translation data needs babel and num2words: "
                           "pip install babel num2words (make does this)") from None
    return format_date, num2words


def date_pair(day, form, target):
    """``(English date, its translation)`` for one ``datetime.date``; ``form`` indexes
    :data:`SOURCE_FORMATS`."""
    format_date, _ = _libraries()
    locale, width = SOURCE_FORMATS[form]
    source = format_date(day, width, locale=locale)
    return source, format_date(day, "full" if width == "full" else "long", locale=target)


def number_pair(number, target):
    _, num2words = _libraries()
    return num2words(number, lang="en"), num2words(number, lang=target)


def check_target(target):
    """The target must be known to both libraries: a clear error otherwise."""
    format_date, num2words = _libraries()
    try:
        format_date(FIRST_DAY, "long", locale=target)
        num2words(21, lang=target)
    except Exception:  # babel: UnknownLocaleError, num2words: NotImplementedError
        raise GalleryError(f"setting target={target!r} is not a locale both babel and "
                           "num2words know (e.g. de, fr, es, it, nl, pt)") from None


def dates_and_numbers(config):
    check_target(config.target)
    rng = np.random.default_rng(config.seed)
    days = rng.permutation((LAST_DAY - FIRST_DAY).days + 1)
    day_parts = np.split(days, [int(0.85 * len(days)), int(0.90 * len(days))])
    numbers = rng.permutation(1_000_000)
    number_parts = np.split(numbers, [int(0.85 * len(numbers)), int(0.90 * len(numbers))])
    counts = (config.train_pairs, config.val_pairs, config.test_pairs)
    parts = []
    for part, (day_ids, number_ids, count) in enumerate(zip(day_parts, number_parts, counts)):
        draw = np.random.default_rng([config.seed, part])
        pairs = []
        for i in range(count):
            if i % 2 == 0:
                day = FIRST_DAY + datetime.timedelta(days=int(draw.choice(day_ids)))
                pairs.append(date_pair(day, int(draw.integers(len(SOURCE_FORMATS))),
                                       config.target))
            else:
                # small numbers are common in text: a third of the draws are below 1,000
                pool = number_ids[number_ids < 1000] if draw.random() < 1 / 3 else number_ids
                pairs.append(number_pair(int(draw.choice(pool)), config.target))
        parts.append(Parallel([s for s, _ in pairs], [t for _, t in pairs]))
    return Splits(*parts, {"source": f"dates and numbers, en → {config.target} (embedded)",
                           "source_lang": "en", "target_lang": config.target})


# -- parallel text files -----------------------------------------------------------------
def read_lines(path):
    """Every line of a (``.gz``) text file: split at ``"\\n"`` only (a lone ``\\r`` or a
    U+2028 inside a sentence must not shift every later pair)."""
    return list(text_lines(require_file(path, "parallel text file")))


def _find(folder, stem, lang):
    for suffix in (".gz", ".txt", ""):
        matches = sorted(folder.glob(f"{stem}.{lang}{suffix}"))
        if matches:
            return matches[0]
    return None


def read_parallel(folder, stem, source_lang, target_lang, required=True):
    """``Parallel`` from ``folder/STEM.SRC[.gz|.txt]`` and ``STEM.TGT``; pairs where
    either side is empty are dropped. Different line counts: an error."""
    source_path = _find(folder, stem, source_lang)
    target_path = _find(folder, stem, target_lang)
    if source_path is None or target_path is None:
        if not required:
            return None
        raise GalleryError(f"{folder}: expected parallel files {stem}.{source_lang}[.gz] and "
                           f"{stem}.{target_lang}[.gz]")
    sources, targets = read_lines(source_path), read_lines(target_path)
    if len(sources) != len(targets):
        raise GalleryError(f"{source_path.name} has {len(sources)} lines but {target_path.name} "
                           f"has {len(targets)}: parallel files need one line per pair")
    kept = [(s.strip(), t.strip()) for s, t in zip(sources, targets) if s.strip() and t.strip()]
    return Parallel([s for s, _ in kept], [t for _, t in kept])


def load_parallel_folder(folder, config):
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise GalleryError(f"parallel data folder {folder} {what}")
    src, tgt = config.source_lang, config.target_lang
    train = read_parallel(folder, "train", src, tgt)
    if len(train) < 10:
        raise GalleryError(f"{folder}: the training files hold {len(train)} usable pairs")
    validation = read_parallel(folder, "val", src, tgt, required=False)
    test = None
    for stem in ("test_2016_flickr", "test"):
        test = test or read_parallel(folder, stem, src, tgt, required=False)
    if validation is None or test is None:  # hold out the end of train instead
        held = max(1, len(train) // 20)
        order = np.random.default_rng(config.seed).permutation(len(train))
        pick = lambda index: Parallel([train.sources[i] for i in index],  # noqa: E731
                                      [train.targets[i] for i in index])
        validation = validation or pick(order[:held])
        test = test or pick(order[held:2 * held])
        train = pick(order[2 * held:])
    return Splits(train, validation, test, {"source": f"parallel:{folder}",
                                            "source_lang": src, "target_lang": tgt})


def load_tfds_parallel(name, config):
    splits = []
    for split in ("train", "validation", "test"):
        dataset, info = load_tfds(name, split)
        keys = list(info.supervised_keys or ())
        pairs = [(s.decode("utf-8", "replace"), t.decode("utf-8", "replace"))
                 for s, t in dataset.take(config.train_pairs if split == "train"
                                          else config.test_pairs).as_numpy_iterator()]
        splits.append(Parallel([s for s, _ in pairs], [t for _, t in pairs]))
    src, tgt = (keys + ["source", "target"])[:2] if len(keys) == 2 else ("source", "target")
    return Splits(*splits, {"source": f"tfds:{name}", "source_lang": str(src),
                            "target_lang": str(tgt)})


def load_translation_data(config, source=None):
    kind, value = parse_source(source)
    if kind == "default":
        return dates_and_numbers(config)
    if kind in ("multi30k", "parallel", "path"):
        return load_parallel_folder(value, config)
    if kind == "tfds":
        return load_tfds_parallel(value, config)
    raise GalleryError(f"translation reads the embedded dates and numbers, multi30k:DIR, "
                       f"parallel:DIR, a folder or tfds:NAME, not {source!r}")
