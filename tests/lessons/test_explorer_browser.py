"""The explorer page in a real browser: Debian's Chromium, headless, through Selenium.

The page is loaded from ``file://``; selections are made on the page, and the cells and
matches it lists are compared with ``lessons.explorer.rules`` on the page's own data.
"""

import numpy as np
import pytest

from rnn_gallery.lessons import activations
from rnn_gallery.lessons.explorer import page
from rnn_gallery.lessons.explorer.rules import find_matches, select_cells

DOM_LISTS = """
return [[...document.querySelectorAll('#cells li')].map((li) => Number(li.dataset.cell)),
        [...document.querySelectorAll('#matches li')].map((li) =>
            [Number(li.dataset.start), Number(li.dataset.length), Number(li.dataset.score)]),
        Number(document.getElementById('threshold').value),
        Number(document.getElementById('sign').value),
        document.getElementById('after').checked,
        [lstmvis.state.start, lstmvis.state.end]];
"""
SELECT_SPAN = """
const [s, e] = arguments, spans = document.querySelectorAll('#text .t');
const range = document.createRange();
range.setStart(spans[s].firstChild, 0);
range.setEnd(spans[e - 1].firstChild, spans[e - 1].firstChild.length);
getSelection().removeAllRanges();
getSelection().addRange(range);
document.getElementById('text').dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
"""


@pytest.fixture(scope="module")
def explorer(tiny_charlm_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("explorer")
    results = activations.run(out, tiny_charlm_run, steps=1500, verbose=False)
    path = out / "activations.html"
    data = page.page_data(path.read_text(encoding="utf-8"))
    return path, data, page.unpack(data["q"], len(data["tokens"])), results


@pytest.fixture
def loaded(browser, explorer):
    from selenium.webdriver.support.ui import WebDriverWait

    path, data, q, results = explorer
    browser.get(path.as_uri())
    WebDriverWait(browser, 60).until(
        lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
    return browser, data, q, results


def python_lists(q, sign, start, end, threshold, after):
    v = sign * q.astype(np.int32)
    cells = select_cells(v, start, end, threshold, after)
    return cells, [list(m) for m in find_matches(v, cells, start, end, threshold, after)]


def dom_state(driver):
    cells, matches, threshold, sign, after, span = driver.execute_script(DOM_LISTS)
    return cells, matches, threshold, sign, after, tuple(span)


def test_page_opens_offline_with_a_worked_hypothesis(loaded):
    driver, data, q, results = loaded
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    names = [li.get_attribute("data-name") for li in
             driver.find_elements("css selector", "#hypotheses li")]
    assert names == [h["name"] for h in data["hypotheses"]] == list(results["best"])
    cells, matches, threshold, sign, after, span = dom_state(driver)
    first = next((h for h in data["hypotheses"] if h.get("initial")), None)
    if first is None:
        pytest.skip("the tiny model has no example span for any property")
    assert (span, threshold, sign) == ((first["start"], first["end"]), first["threshold"],
                                       first["sign"])
    assert first["unit"] in cells
    assert (cells, matches) == python_lists(q, sign, *span, threshold, after)
    expected = results["matches"][first["name"]]
    assert cells == expected["cells"] and matches == expected["matches"]


def test_selection_slider_after_and_sign_agree_with_python(loaded):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    driver, data, q, _ = loaded
    tokens = data["tokens"]
    start = "".join(tokens).index("(a, b)") + 1                 # select "a, b"
    driver.execute_script(SELECT_SPAN, start, start + 4)
    cells, matches, threshold, sign, after, span = dom_state(driver)
    assert span == (start, start + 4)
    assert (cells, matches) == python_lists(q, sign, *span, threshold, after)
    # Move the slider down with the keyboard until Python says the lists change.
    steps = next(k for k in range(1, 120) if python_lists(q, sign, *span, threshold - k, after)
                 != (cells, matches))
    slider = driver.find_element("id", "threshold")
    slider.send_keys(*[Keys.ARROW_LEFT] * steps)
    moved = dom_state(driver)
    assert moved[2] == threshold - steps
    assert moved[:2] == python_lists(q, sign, *span, threshold - steps, after)
    assert moved[:2] != (cells, matches)
    driver.find_element("id", "after").click()
    after = dom_state(driver)
    assert after[4] is True
    assert after[:2] == python_lists(q, sign, *span, threshold - steps, True)
    Select(driver.find_element("id", "sign")).select_by_value(str(-sign))
    flipped = dom_state(driver)
    assert flipped[3] == -sign
    assert flipped[:2] == python_lists(q, -sign, *span, threshold - steps, True)


def test_mouse_drag_selects_the_characters_under_it(loaded):
    from selenium.webdriver.common.action_chains import ActionChains

    driver, data, q, _ = loaded
    spans = driver.find_elements("css selector", "#text .t")
    start = "".join(data["tokens"]).index("return")
    first, last = spans[start], spans[start + 5]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", first)
    width = first.size["width"]
    (ActionChains(driver).move_to_element_with_offset(first, -width // 2 + 1, 0)
     .click_and_hold().move_to_element_with_offset(last, width // 2 - 1, 0).release()
     .perform())
    cells, matches, threshold, sign, after, span = dom_state(driver)
    assert span == (start, start + 6)
    assert (cells, matches) == python_lists(q, sign, *span, threshold, after)


def test_clicking_a_match_scrolls_to_it(loaded):
    from selenium.webdriver.common.keys import Keys

    driver, data, q, _ = loaded
    start = "".join(data["tokens"]).index("    return")        # an indentation
    sign = dom_state(driver)[3]
    threshold = next(t for t in range(120, -120, -4)
                     if len(python_lists(q, sign, start, start + 4, t, False)[1]) > 3)
    driver.execute_script(SELECT_SPAN, start, start + 4)
    now = dom_state(driver)[2]
    key = Keys.ARROW_LEFT if threshold < now else Keys.ARROW_RIGHT
    driver.find_element("id", "threshold").send_keys(*[key] * abs(now - threshold))
    cells, matches, *_ = dom_state(driver)
    assert (cells, matches) == python_lists(q, sign, start, start + 4, threshold, False)
    target = driver.find_elements("css selector", "#matches li")[-1]
    driver.execute_script("arguments[0].scrollIntoView()", target)
    target.click()
    inside = driver.execute_script("""
        const s = document.querySelector('#text .t[data-i="' + arguments[0] + '"]');
        const box = document.getElementById('text').getBoundingClientRect();
        const r = s.getBoundingClientRect();
        return s.classList.contains('focus') && r.top >= box.top && r.bottom <= box.bottom;
    """, matches[-1][0])
    assert inside


def test_the_page_rules_equal_the_python_rules(loaded):
    driver = loaded[0]
    rng = np.random.default_rng(0)
    for case in range(40):
        T, H = int(rng.integers(10, 80)), int(rng.integers(1, 10))
        q = np.cumsum(rng.integers(-40, 41, size=(T, H)), axis=0).clip(-127, 127)
        start = int(rng.integers(0, T - 1))
        end = int(rng.integers(start + 1, min(T, start + 15) + 1))
        threshold, after = int(rng.integers(-60, 60)), bool(case % 2)
        cells = select_cells(q, start, end, threshold, after)
        pool = cells or list(range(H))
        js_cells, js_matches = driver.execute_script(
            "const [flat, T, H, s, e, thr, after, pool] = arguments;"
            "const v = Int16Array.from(flat);"
            "return [lstmvis.selectCells(v, T, H, s, e, thr, after),"
            "        lstmvis.findMatches(v, T, pool, s, e, thr, after, 1000)];",
            q.T.ravel().tolist(), T, H, start, end, threshold, after, pool)
        assert js_cells == cells
        assert js_matches == [list(m) for m in find_matches(q, pool, start, end, threshold,
                                                            after, top=1000)]
