"""The page of ``gallery serve --ui`` in a real browser (Chromium through Selenium).

One server (127.0.0.1, a free port) with a small export of every task and one browser
serve all the tests. For every panel: an input is entered and submitted, the result is
read from the page and compared with a direct call of the same SavedModel; a bad input
shows a message in the panel and the panel still works afterwards; a screenshot of the
panel is saved under ``artifacts/web_page/`` (git-ignored).
"""

import json
import os
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf

ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "artifacts" / "web_page"


def _write_held_out(export, task, config, meta):
    """Write beside ``export`` the held-out inputs `gallery demo` writes beside its
    exports, from the data the run (``meta``) was trained on."""
    from gallery.runs import run_data_source
    from gallery.serving.ui.examples import write_examples

    request = task.demo_request(task.load_data(config, run_data_source(meta)))
    write_examples(export, request, meta.get("labels"))


@pytest.fixture(scope="module")
def exports(tmp_path_factory, task_export, tiny_captioning_run, tiny_frame_tagging_run,
            tiny_photo_run):
    """Every task's tiny export (copies of the session's, which other test files share
    and nobody writes into), and the photo model's; held-out examples beside the image
    and frame models."""
    from gallery.export.saved_model import export_saved_model
    from gallery.runs import load_run

    out = tmp_path_factory.mktemp("web") / "exports"
    folders = {name: pathlib.Path(shutil.copytree(task_export(name), out / name / "1"))
               for name in ("sentiment", "captioning", "translation", "frame_tagging",
                            "charlm")}
    for name, run in (("captioning", tiny_captioning_run),
                      ("frame_tagging", tiny_frame_tagging_run), ("photos", tiny_photo_run)):
        task, config, model, meta = load_run(run)
        if name == "photos":  # no session export of the photo model to copy
            folders[name] = export_saved_model(task, config, model, meta, out / name / "1")
        _write_held_out(folders[name], task, config, meta)
    return folders


@pytest.fixture(scope="module")
def page(browser, exports):
    """``(driver, signatures, exports)``: the browser on the page, each export's
    signatures and folder."""
    from gallery.serving.app import build_app, running_in_thread
    from gallery.serving.model import ServedModel
    from gallery.serving.ui import add_ui

    models = {name: ServedModel(name, path) for name, path in exports.items()}
    # the tests call the server's own loaded functions directly (each SavedModel loaded once)
    signatures = {name: {key: signature.function for key, signature in model.signatures.items()}
                  for name, model in models.items()}
    with running_in_thread(add_ui(build_app(models))) as url:
        browser.get_log("browser")  # what earlier tests left in the console
        browser.set_window_size(1100, 1600)
        browser.get(url + "/")
        _wait(browser, lambda d: d.execute_script("return document.body.dataset.ready"))
        yield browser, signatures, exports


def _wait(driver, condition, seconds=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(condition)


def _panel(driver, name):
    return driver.find_element("css selector", f"section[data-model='{name}']")


def _submit_and_wait(driver, panel, selector):
    """Click the panel's submit button; wait until it is done; return the element at
    ``selector`` in its result, or None if the panel shows an error instead."""
    old = panel.find_elements("css selector", ".result > *")
    panel.find_element("css selector", "button[type=submit]").click()
    _wait(driver, lambda d: panel.get_attribute("aria-busy") is None and (
        panel.find_element("css selector", ".error").text or
        (panel.find_elements("css selector", selector) and
         panel.find_elements("css selector", ".result > *") != old)))
    found = panel.find_elements("css selector", f".result {selector}")
    return found[0] if found and not _error(panel) else None


def _error(panel):
    return panel.find_element("css selector", ".error").text


def _screenshot(panel, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    panel.parent.execute_script("arguments[0].scrollIntoView()", panel)
    panel.screenshot(str(ARTIFACTS / f"{name}.png"))


def _type(panel, selector, text):
    box = panel.find_element("css selector", selector)
    box.clear()
    box.send_keys(text)


def _no_console_errors(driver):
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


def test_every_model_has_its_panel(page):
    driver, _, _ = page
    kinds = [s.get_attribute("data-kind") for s in driver.find_elements("css selector",
                                                                        "section.panel")]
    assert kinds == ["sentiment", "captioning", "translation", "frame_tagging", "charlm",
                     "captioning"]
    for label in driver.find_elements("css selector", "section.panel label"):
        target = label.get_attribute("for")
        assert driver.find_elements("id", target), f"label {label.text!r} labels nothing"
    _no_console_errors(driver)


def _text_panel(driver, name, box, text, result):
    """An empty text box gives a message; then ``text`` gives the element ``result``."""
    panel = _panel(driver, name)
    assert _submit_and_wait(driver, panel, result) is None
    assert "empty" in _error(panel)
    _type(panel, box, text)
    return panel, _submit_and_wait(driver, panel, result)


def test_sentiment_panel(page):
    driver, signatures, _ = page
    text = "a wonderful and superb film"
    panel, label = _text_panel(driver, "sentiment", "textarea", text, "[data-role=label]")
    served = signatures["sentiment"]["serving_default"](text=tf.constant([text]))
    assert label.text == served["label"].numpy()[0].decode()
    shown = float(panel.find_element("css selector", "[data-role=probability]").text)
    assert shown == pytest.approx(float(served["probability"][0]), abs=6e-4)
    prefixes = signatures["sentiment"]["prefixes"](text=tf.constant([text]))
    chips = panel.find_elements("css selector", "[data-role=prefixes] span")
    best = int(np.argmax(served["probabilities"][0]))
    assert [c.text for c in chips] == [t.decode() for t in prefixes["tokens"].numpy()[0]]
    np.testing.assert_allclose([float(c.get_attribute("data-probability")) for c in chips],
                               prefixes["probabilities"].numpy()[0, :, best], atol=2e-6)
    _screenshot(panel, "sentiment")
    _no_console_errors(driver)


def test_captioning_panel(page, tmp_path):
    import base64

    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import Select

    driver, signatures, exports = page
    panel = _panel(driver, "captioning")
    (tmp_path / "notes.png").write_bytes(b"this is not an image")
    panel.find_element("css selector", "input[type=file]").send_keys(str(tmp_path / "notes.png"))
    assert _submit_and_wait(driver, panel, "[data-role=caption]") is None
    assert "could not read this image" in _error(panel)
    # a held-out image, chosen with the keyboard-usable select
    Select(panel.find_element("css selector", "select")).select_by_index(1)
    caption = _submit_and_wait(driver, panel, "[data-role=caption]")
    examples = _examples(exports, "captioning")
    image = tf.constant([base64.b64decode(examples[0]["inputs"]["image"]["b64"])])
    served = signatures["captioning"]["serving_default"](image=image)
    beams = signatures["captioning"]["beams"](image=image)
    assert caption.text == (served["caption"].numpy()[0].decode() or "(no words)")
    rows = _beam_rows(panel)
    assert [r[1] for r in rows] == [c.decode() or "(no words)"
                                    for c in beams["captions"].numpy()[0]]
    np.testing.assert_allclose([float(r[2]) for r in rows], beams["scores"][0], atol=6e-4)
    _screenshot(panel, "captioning")
    # drawn on the pad: what the page sent is what the model captions
    pad = panel.find_element("css selector", "canvas")
    panel.find_element("css selector", "button.secondary").click()
    ActionChains(driver).move_to_element_with_offset(pad, -150, -40).click_and_hold() \
        .move_by_offset(0, 70).release().move_to_element_with_offset(pad, -80, -40) \
        .click_and_hold().move_by_offset(40, 0).move_by_offset(-40, 70).move_by_offset(40, 0) \
        .release().perform()
    caption = _submit_and_wait(driver, panel, "[data-role=caption]")
    drawn = driver.execute_script("return arguments[0].toDataURL('image/png')", pad)
    served = signatures["captioning"]["serving_default"](
        image=tf.constant([base64.b64decode(drawn.split(",")[1])]))
    assert caption.text == (served["caption"].numpy()[0].decode() or "(no words)")
    _no_console_errors(driver)


def _beam_rows(panel):
    """The cells of each row of a captioning panel's beam table."""
    return [[td.text for td in tr.find_elements("css selector", "td")]
            for tr in panel.find_elements("css selector", "[data-role=beams] tbody tr")]


def test_photo_captioning_panel(page):
    """A photo model's panel: the caption, the beam from serving_default, one attention
    map per written word."""
    import base64

    from selenium.webdriver.support.ui import Select

    driver, signatures, exports = page
    panel = _panel(driver, "photos")
    Select(panel.find_element("css selector", "select")).select_by_index(1)
    caption = _submit_and_wait(driver, panel, "[data-role=caption]")
    examples = _examples(exports, "photos")
    image = tf.constant([base64.b64decode(examples[0]["inputs"]["image"]["b64"])])
    served = signatures["photos"]["serving_default"](image=image)
    assert caption.text == (served["caption"].numpy()[0].decode() or "(no words)")
    rows = _beam_rows(panel)
    assert [r[1] for r in rows] == [c.decode() or "(no words)"
                                    for c in served["alternatives"].numpy()[0]]
    words = [w.decode() for w in served["words"].numpy()[0] if w]
    shown = panel.find_elements("css selector", "[data-role=attention] figcaption")
    assert [f.text for f in shown] == words
    _screenshot(panel, "captioning_photos")
    _no_console_errors(driver)


def _examples(exports, name):
    from gallery.serving.ui.examples import read_examples

    return read_examples(exports[name])


def test_translation_panel(page):
    driver, signatures, _ = page
    text = "three hundred and twelve"
    panel, shown = _text_panel(driver, "translation", "input[type=text]", text,
                               "[data-role=translation]")
    served = signatures["translation"]["serving_default"](text=tf.constant([text]))
    assert shown.text == served["translation"].numpy()[0].decode()
    attention = signatures["translation"]["attention"](text=tf.constant([text]))
    n, s = int(attention["output_lengths"][0]), int(attention["source_lengths"][0])
    cells = panel.find_elements("css selector", "[data-role=attention] tbody td")
    assert len(cells) == n * s
    np.testing.assert_allclose([float(c.get_attribute("data-weight")) for c in cells],
                               attention["weights"].numpy()[0, :n, :s].ravel(), atol=2e-6)
    _screenshot(panel, "translation")
    _no_console_errors(driver)


def test_frame_tagging_panel(page, tmp_path):
    from selenium.webdriver.support.ui import Select

    driver, signatures, exports = page
    panel = _panel(driver, "frame_tagging")
    upload = panel.find_element("css selector", "input[type=file]")
    np.save(tmp_path / "wrong.npy", np.zeros((20, 3), np.float32))
    upload.send_keys(str(tmp_path / "wrong.npy"))
    assert _submit_and_wait(driver, panel, "[data-role=segments]") is None
    assert "shape" in _error(panel)
    example = _examples(exports, "frame_tagging")[1]
    frames = np.array(example["inputs"]["frames"][:example["inputs"]["lengths"]], np.float32)
    (tmp_path / "stream.csv").write_text(
        "\n".join([",".join(f"c{i}" for i in range(frames.shape[1]))]
                  + [",".join(repr(float(v)) for v in row) for row in frames]))
    upload.send_keys(str(tmp_path / "stream.csv"))
    segments = _submit_and_wait(driver, panel, "[data-role=segments]")
    served = signatures["frame_tagging"]["serving_default"](
        frames=tf.constant(frames[None]), lengths=tf.constant([len(frames)]))
    expected = [v.decode() for v in served["labels"].numpy()[0]]
    assert json.loads(segments.get_attribute("data-labels")) == expected
    upload.clear()
    Select(panel.find_element("css selector", "select")).select_by_index(1)
    segments = _submit_and_wait(driver, panel, "[data-role=segments]")
    first = _examples(exports, "frame_tagging")[0]
    n = first["inputs"]["lengths"]
    served = signatures["frame_tagging"]["serving_default"](
        frames=tf.constant([first["inputs"]["frames"][:n]], tf.float32), lengths=tf.constant([n]))
    assert json.loads(segments.get_attribute("data-labels")) == \
        [v.decode() for v in served["labels"].numpy()[0]]
    _screenshot(panel, "frame_tagging")
    _no_console_errors(driver)


def test_charlm_panel(page):
    driver, signatures, exports = page
    panel = _panel(driver, "charlm")
    _type(panel, "input[id$=-length]", "0")
    assert _submit_and_wait(driver, panel, "[data-role=text]") is None
    assert "number of characters" in _error(panel)
    _type(panel, "input[id$=-prime]", "def ")
    _type(panel, "input[id$=-length]", "40")
    _type(panel, "input[id$=-temperature]", "0.5")
    _type(panel, "input[id$=-seed]", "3")
    text = _submit_and_wait(driver, panel, "[data-role=text]")
    served = signatures["charlm"]["generate"](prime=tf.constant(["def "]), length=tf.constant(40),
                                              temperature=tf.constant(0.5),
                                              seed=tf.constant(3))
    assert text.get_attribute("textContent") == served["text"].numpy()[0].decode()
    _screenshot(panel, "charlm")
    _no_console_errors(driver)


def test_page_screenshot(page):
    driver, _, _ = page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1200, min(height + 50, 6000))
    driver.save_screenshot(str(ARTIFACTS / "page.png"))
    assert os.path.getsize(ARTIFACTS / "page.png") > 10_000


def test_serve_demo_without_exports_is_one_line(tmp_path, capsys):
    from gallery.cli import main

    assert main(["serve", "--demo", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gallery: error: no exports in") and "make run" in err
    assert "\n" not in err
    assert main(["serve", "--demo", "--model", f"x={tmp_path}"]) == 2
