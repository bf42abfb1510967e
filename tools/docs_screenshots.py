"""Screenshots of the built documentation site, to look at before publishing.

    make docs && python tools/docs_screenshots.py [--out DIR] [--height 4000]

Renders every page of ``mkdocs.yml``'s navigation from ``site/`` with Debian's headless
Chromium, 1280 pixels wide, into ``DIR/PAGE.png`` (default ``site-screenshots/``).
Look for tables wider than the page, images that did not load, and maths left as LaTeX.
"""

import argparse
import pathlib
import shutil
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def nav_pages(items):
    """The Markdown paths of a ``nav`` list, in order."""
    for item in items:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        yield from nav_pages(value) if isinstance(value, list) else [value]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default=str(ROOT / "site"))
    parser.add_argument("--out", default=str(ROOT / "site-screenshots"))
    parser.add_argument("--height", type=int, default=4000)
    args = parser.parse_args(argv)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        print("chromium is not installed (make system-deps)", file=sys.stderr)
        return 2
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    for page in nav_pages(config["nav"]):
        html = pathlib.Path(args.site) / page.replace(".md", ".html")
        png = out / (page.replace("/", "_").replace(".md", ".png"))
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--screenshot={png}",
                        f"--window-size=1280,{args.height}", html.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
        print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
