"""The widgets in a real browser: JupyterLab + headless Chromium (scripts/browser_check.py).

Skipped unless Playwright (``pip install playwright``) and a Chromium binary (Debian:
``apt-get install chromium``) are present; ``DRIVE_LAB_BROWSER_TEST=0`` skips it too. About a
minute or two on 2 CPU cores: server start, kernel start, a few smoke runs, the browser at 1024×768
(layout, Run, Stop during a Run, the results browser). Screenshots are also copied to
``$DRIVE_LAB_SCREENSHOTS`` (default ``/tmp/helpers/screens``) for review.
"""
import importlib.util
import os
import shutil
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
    assert "Stop did not end" not in completed.stdout and "after Stop" in completed.stdout
    assert "overflows" not in completed.stdout and "layout at 1024x768" in completed.stdout
    for name in ("1_explorer", "3_explorer_running", "4_explorer_stopped", "5_results_browser"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    review = Path(os.environ.get("DRIVE_LAB_SCREENSHOTS", "/tmp/helpers/screens"))  # kept for a person to look at
    try:
        review.mkdir(parents=True, exist_ok=True)
        for shot in tmp_path.glob("*.png"):
            shutil.copy(shot, review / shot.name)
    except OSError:
        pass
