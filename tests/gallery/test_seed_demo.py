"""The printed layer demo agrees with the worked examples (and says so)."""

from gallery.seed_demo import print_seed_examples


def test_seed_demo_reports_every_example_ok(capsys):
    assert print_seed_examples() is True
    out = capsys.readouterr().out
    assert out.count("[ok]") == 4 and "MISMATCH" not in out
    assert "[15.0, 35.0, 65.0]" in out
