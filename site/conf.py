"""Sphinx configuration of the course website (built by ``python scripts/build_site.py``).

The source directory is the repository root, so notebooks and docs are read where they are
committed; ``include_patterns`` picks the pages. Notebooks are never executed here: the site
shows the outputs committed by ``scripts/execute_notebooks.py`` (cpu preset).
"""
from __future__ import annotations

project = "drive_lab"
author = "drive_lab contributors"
copyright = "2026, drive_lab contributors"

extensions = ["myst_nb"]
root_doc = "site/index"
include_patterns = ["site/index.md", "notebooks/*.ipynb", "docs/method.md", "docs/reproduction.md",
                    "docs/answers/*.md"]
exclude_patterns = ["**/.ipynb_checkpoints", ".venv", "build", "results"]

# The committed outputs are the content: never run a kernel while building.
nb_execution_mode = "off"
# Notebook 06 stores, next to each widget's saved state, a static HTML view of the last Run;
# without a kernel the controls cannot run, so the site shows that view (and loads no widget
# JavaScript from a CDN, so the pages work offline).
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_title = "drive_lab: DRIVE pruning, learned and reproduced"
html_theme_options = {"show_toc_level": 2, "use_download_button": True}
html_static_path: list[str] = []
html_show_sourcelink = False
# No widget JavaScript (require.js, html-manager) from a CDN: nothing on the pages uses it.
nb_ipywidgets_js: dict = {}
