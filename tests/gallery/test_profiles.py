"""Named profiles, and the settings help generated from the config dataclasses."""

import dataclasses

import pytest

from gallery import registry
from gallery.cli import main
from gallery.config import TrainConfig, setting
from gallery.errors import GalleryError
from gallery.profiles import make_config, setting_docs, settings_help, settings_rows


@dataclasses.dataclass
class ToyConfig(TrainConfig):
    epochs: int = setting(3, "the doc the subclass gives")
    depth: int = setting(2, "how deep")
    name: str = dataclasses.field(default="x", metadata={"doc": "from the metadata"})
    seed: int = 7                 # a comment is not documentation: seed keeps its base's doc


class ToyTask:
    name = "toy"
    config_class = ToyConfig
    profiles = {"small": {"depth": 1, "epochs": 1}, "deep": {"depth": 9}}

    def data_profile(self, source):
        return "deep" if source == "deep-data" else None


def test_profile_then_set_wins():
    task = ToyTask()
    assert make_config(task).depth == 2
    assert make_config(task, "small") == ToyConfig(depth=1, epochs=1)
    assert make_config(task, "small", overrides=["depth=5"]).depth == 5
    assert make_config(task, source="deep-data").depth == 9        # the data set's own
    assert make_config(task, "small", source="deep-data").depth == 1  # --profile wins
    with pytest.raises(GalleryError, match="unknown profile 'huge' for toy; profiles: deep, small"):
        make_config(task, "huge")


def test_docs_come_from_field_metadata_and_the_base_class():
    docs = setting_docs(ToyConfig)
    assert docs["epochs"] == "the doc the subclass gives"
    assert docs["depth"] == "how deep"
    assert docs["name"] == "from the metadata"
    assert docs["seed"] == "seeds weights, shuffling and dropout"  # inherited, not the comment
    rows = {name: (kind, default) for name, kind, default, _ in settings_rows(ToyConfig)}
    assert rows["depth"] == ("int", 2) and rows["name"] == ("str", "x") and rows["seed"][1] == 7
    text = settings_help(ToyTask())
    assert "small: depth=1, epochs=1" in text and "how deep" in text


@pytest.mark.parametrize("name", registry.task_names())
def test_every_setting_of_every_task_is_documented(name):
    task = registry.get_task(name)
    undocumented = [row[0] for row in settings_rows(task.config_class) if not row[3]]
    assert undocumented == []
    for profile, values in task.profiles.items():  # every profile names real settings
        assert make_config(task, profile) == make_config(
            task, overrides=[f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                             for k, v in values.items()])


def test_defaults_have_no_time_budget():
    """Same command, same schedule on any machine: no default stops on the clock."""
    for name in registry.task_names():
        assert registry.get_task(name).config_class().max_minutes == 0, name


def test_train_help_lists_settings_and_profiles(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", "translation", "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "--profile NAME" in out
    assert "beam_width" in out and "1: greedy decoding" in out
    assert "sentences: source_tokens=words_punct" in out
    with pytest.raises(SystemExit) as stop:
        main(["train", "nonsense", "--help"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().startswith("gallery: error: unknown task")


def test_an_unknown_profile_is_one_line(capsys):
    assert main(["train", "sentiment", "--profile", "huge"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "gallery: error: unknown profile 'huge' for sentiment; profiles: demo, tiny"


def test_the_cell_setting_asks_the_layers_table_of_cells(monkeypatch):
    """``cell`` is checked against ``gallery.layers.cells.CELLS`` (its one owner): a cell
    added to the table is accepted, and its doc lists it."""
    from gallery.layers import cells

    with pytest.raises(GalleryError, match="setting cell must be lstm, gru or elman, got 'x'"):
        make_config(ToyTask(), overrides=["cell=x"])
    monkeypatch.setitem(cells.CELLS, "x", cells.LSTMCell)
    assert make_config(ToyTask(), overrides=["cell=x"]).cell == "x"


def test_translation_choices_are_checked_by_require_choice():
    task = registry.get_task("translation")
    for key, choices in (("attention", "none, bahdanau or luong"),
                         ("source_tokens", "words, words_punct or chars"),
                         ("target_tokens", "words, words_punct or chars")):
        with pytest.raises(GalleryError, match=f"setting {key} must be {choices}, got 'x'"):
            make_config(task, overrides=[f"{key}=x"])
