"""The widgets in a real browser: JupyterLab + headless Chromium (scripts/browser_check.py).

Skipped unless Playwright (``pip install playwright``) and a Chromium binary (Debian:
``apt-get install chromium``) are present; ``DRIVE_LAB_BROWSER_TEST=0`` skips it too. About a
minute on 2 CPU cores: server start, kernel start, five smoke runs, the browser.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "browser_check.py"


def chromium() -> str | None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import browser_check

        return browser_check.find_chromium(os.environ.get("CHROMIUM"))
    except Exception:  # noqa: BLE001  (no Chromium: the test is skipped)
        return None
    finally:
        sys.path.remove(str(SCRIPT.parent))


@pytest.mark.skipif(os.environ.get("DRIVE_LAB_BROWSER_TEST", "1") == "0", reason="DRIVE_LAB_BROWSER_TEST=0")
@pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="needs `pip install playwright`")
@pytest.mark.skipif(importlib.util.find_spec("jupyterlab") is None, reason="needs JupyterLab (the dev extra)")
def test_widgets_render_and_run_in_jupyterlab(tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("needs a Chromium binary (Debian: apt-get install chromium)")
    completed = subprocess.run([sys.executable, str(SCRIPT), "--chromium", browser, "--screenshots", str(tmp_path)],
                               cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "PASS" in completed.stdout
    assert (tmp_path / "2_explorer_after_run.png").stat().st_size > 10_000
