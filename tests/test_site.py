"""The course website (scripts/build_site.py): built from the committed notebooks, checked in Chromium.

The build needs the ``dev`` extra (Sphinx, myst-nb, the book theme); the browser check needs
Playwright and a Chromium binary (Debian: ``apt-get install chromium``). About half a minute on
2 CPU cores.
"""
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_site  # noqa: E402

needs_sphinx = pytest.mark.skipif(importlib.util.find_spec("myst_nb") is None, reason="needs the dev extra (myst-nb)")


def test_the_link_check_finds_broken_links_missing_anchors_and_raw_widget_text(tmp_path):
    (tmp_path / "a.html").write_text('<p id="top">x</p><a href="b.html#here">b</a> <a href="b.html#gone">b</a>'
                                     '<img src="missing.png"><a href="https://example.org/x">out</a>')
    (tmp_path / "b.html").write_text('<h1 id="here">b</h1><pre>AblationExplorer(children=(HTML(</pre>'
                                     '<a href="a.html#top">a</a>')
    problems = build_site.static_problems(tmp_path)
    assert sorted(problems) == sorted([
        "a.html: link 'b.html#gone' names a missing anchor",
        "a.html: broken link 'missing.png'",
        "b.html: shows raw widget text 'AblationExplorer('",
        "b.html: shows raw widget text 'children=('",
    ])


@needs_sphinx
def test_the_site_builds_from_the_committed_notebooks_and_every_page_loads_in_chromium(tmp_path):
    out = tmp_path / "site"
    entry = build_site.build(out)
    assert "site/index.html" in entry.read_text()
    for name in ("00_overview", "02_baselines_and_layer_collapse", "06_interactive_ablations", "07_reproduction_report"):
        assert (out / "notebooks" / f"{name}.html").exists(), name
    assert (out / "docs" / "method.html").exists() and (out / "docs" / "reproduction.html").exists()
    # Committed outputs, not re-executed: the figures are the notebooks' own PNGs, and notebook 06
    # shows the static view its widgets saved.
    assert len(list((out / "_images").glob("*.png"))) >= 20
    explorer_page = (out / "notebooks" / "06_interactive_ablations.html").read_text()
    assert "static view of the last Run" in explorer_page
    assert build_site.static_problems(out) == []

    sys.path.insert(0, str(ROOT / "scripts"))
    import browser_check

    try:
        chromium = browser_check.find_chromium(os.environ.get("CHROMIUM"))
    except browser_check.CheckFailed:
        pytest.skip("needs a Chromium binary (Debian: apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("needs `pip install playwright`")
    problems, images = build_site.browser_problems(out, chromium, tmp_path / "shots")
    assert problems == []
    assert images["notebooks/02_baselines_and_layer_collapse.html"] >= 3
    assert (tmp_path / "shots" / "notebooks_06_interactive_ablations.png").stat().st_size > 10_000
    review = Path(os.environ.get("DRIVE_LAB_SCREENSHOTS", "/tmp/helpers/screens"))  # kept for a person to look at
    try:
        review.mkdir(parents=True, exist_ok=True)
        for shot in (tmp_path / "shots").glob("*.png"):
            shutil.copy(shot, review / f"site_{shot.name}")
    except OSError:
        pass
