#!/usr/bin/env python
"""Build the course website from the committed notebooks, without executing them.

    python scripts/build_site.py                  # -> build/site/index.html
    python scripts/build_site.py --check          # ... then open every page in headless Chromium

Sphinx + myst-nb (the ``dev`` extra) render ``notebooks/*.ipynb`` with their committed outputs
(``scripts/execute_notebooks.py``, cpu preset), ``docs/method.md``, ``docs/reproduction.md`` (the
claims table) and the answer keys; the configuration is ``site/conf.py``. Sphinx warnings
(a broken cross-reference, a missing image) fail the build.

``--check`` reads every built page: each local link and image must point at a file that
exists (and a ``#fragment`` at an id on that page), no page may show a widget's raw text
(``AblationExplorer(children=...``), and in Chromium at 1024×768 every image must load and no
local request may fail. Screenshots go to ``--screenshots``. External links are not followed
(the check runs offline); MathJax comes from its CDN, so formulas render only online.
"""
from __future__ import annotations

import argparse
import html.parser
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "build" / "site"
# What a widget looks like when it is printed instead of rendered.
RAW_WIDGET_TEXT = ("AblationExplorer(", "ResultsBrowser(", "children=(", "VBox(", "HBox(", "Tab(",
                   "application/vnd.jupyter.widget-view+json")
# Screenshots: page -> a Playwright selector to scroll to first (None: the top of the page).
PAGES_TO_SHOOT = {"site/index.html": None, "notebooks/00_overview.html": None,
                  "notebooks/02_baselines_and_layer_collapse.html": ".cell_output img >> nth=0",
                  "notebooks/06_interactive_ablations.html": "text=static view of the last Run >> nth=0",
                  "notebooks/07_reproduction_report.html": None, "docs/reproduction.html": None}
VIEWPORT = {"width": 1024, "height": 768}
REDIRECT = ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>drive_lab</title>\n'
            '<meta http-equiv="refresh" content="0; url=site/index.html"></head>\n'
            '<body><a href="site/index.html">drive_lab: the course</a></body></html>\n')


class SiteProblem(RuntimeError):
    pass


def build(out: Path = DEFAULT_OUT, quiet: bool = True) -> Path:
    """Run Sphinx (warnings are errors) into ``out``; return the entry page ``out/index.html``."""
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-c", str(ROOT / "site"),
               str(ROOT), str(out)] + (["-q"] if quiet else [])
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if completed.returncode != 0:
        raise SiteProblem(f"sphinx-build failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    (out / "index.html").write_text(REDIRECT)  # the root page is site/index.html
    return out / "index.html"


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            value = attrs.get(key)
            if value and not (tag == "link" and attrs.get("rel") in ("preconnect", "dns-prefetch")):
                self.targets.append(value)


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _pages(out: Path) -> list[Path]:
    """The built pages (not the theme's templates under ``_static``, nor the sources)."""
    return sorted(p for p in out.rglob("*.html") if not {"_static", "_sources"} & set(p.relative_to(out).parts))


def static_problems(out: Path) -> list[str]:
    """Broken local links, missing fragments and raw widget text in the built pages."""
    problems, parsed = [], {}
    pages = _pages(out)
    for page in pages:
        parsed[page] = _parse(page)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for raw in RAW_WIDGET_TEXT:
            if raw in text:
                problems.append(f"{page.relative_to(out)}: shows raw widget text {raw!r}")
        for target in parsed[page].targets:
            parts = urlsplit(target)
            if parts.scheme or target.startswith(("//", "mailto:", "javascript:")):
                continue  # external: not followed offline
            path = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                problems.append(f"{page.relative_to(out)}: broken link {target!r}")
            elif parts.fragment and path.suffix == ".html":
                ids = parsed[path].ids if path in parsed else _parse(path).ids
                if unquote(parts.fragment) not in ids:
                    problems.append(f"{page.relative_to(out)}: link {target!r} names a missing anchor")
    return problems


def browser_problems(out: Path, chromium: str, screenshots: Path | None = None) -> tuple[list[str], dict]:
    """Open every page in headless Chromium; return the problems and per-page image counts."""
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT / "scripts"))
    from browser_check import CHROMIUM_ARGS

    problems, images = [], {}
    # Not the root redirect (it navigates away at once) nor the search page (it needs a query).
    pages = [p for p in _pages(out) if p.name != "search.html" and p != out / "index.html"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport=VIEWPORT)
        failed: list[str] = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        for path in pages:
            failed.clear()
            page.goto(path.as_uri(), wait_until="load")
            broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                                   ".map(i => i.getAttribute('src'))")
            name = str(path.relative_to(out))
            images[name] = page.evaluate("document.images.length")
            problems += [f"{name}: image {src!r} did not load" for src in broken]
            problems += [f"{name}: request for {url} failed" for url in failed if url.startswith("file:")]
            if screenshots is not None and name in PAGES_TO_SHOOT:
                screenshots.mkdir(parents=True, exist_ok=True)
                if PAGES_TO_SHOOT[name]:
                    page.locator(PAGES_TO_SHOOT[name]).scroll_into_view_if_needed()
                page.screenshot(path=str(screenshots / (name.replace("/", "_").replace(".html", ".png"))))
        browser.close()
    return problems, images


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: build/site)")
    parser.add_argument("--check", action="store_true", help="check links, images and widgets in headless Chromium")
    parser.add_argument("--chromium", default=None, help="Chromium binary for --check (default: searched)")
    parser.add_argument("--screenshots", type=Path, default=None, help="folder for screenshots at 1024x768")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        entry = build(args.out)
        print(f"built {entry} in {time.perf_counter() - start:.1f} s", flush=True)
        if not args.check:
            return 0
        problems = static_problems(args.out)
        sys.path.insert(0, str(ROOT / "scripts"))
        from browser_check import find_chromium

        found, images = browser_problems(args.out, find_chromium(args.chromium), args.screenshots)
        problems += found
    except SiteProblem as error:
        print(error, file=sys.stderr)
        return 1
    print(f"opened {len(images)} pages with {sum(images.values())} images in Chromium at 1024x768")
    for problem in problems:
        print("PROBLEM", problem)
    print("PASS" if not problems else f"FAIL: {len(problems)} problem(s)")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
