#!/usr/bin/env python
"""Check the interactive widgets in a real browser: JupyterLab (or Notebook 7) + headless Chromium.

    python scripts/browser_check.py                      # JupyterLab 4
    python scripts/browser_check.py --app notebook       # Notebook 7 (needs `pip install "notebook>=7"`)

What it does, every step with a time limit:

1. copies ``notebooks/06_interactive_ablations.ipynb`` (outputs stripped) into a temporary folder and
   starts a Jupyter server there on 127.0.0.1 (a free port, a random token; smoke preset, a temporary
   result store, so nothing in the repository is touched);
2. opens the notebook in headless Chromium driven by Playwright at a 1024×768 viewport with
   JupyterLab's file panel open, runs the settings cell and the explorer cell (which presses Run
   once), waits for the explorer widget and its figures, and checks that it does not overflow
   horizontally;
3. moves a control (drags the warm-up slider's handle to the left end), checks that the old
   results are cleared, presses **Run**, and waits until the output area shows the outcome: the
   sentence (which must name the new E), the table and three figures;
4. ticks two more seeds and a baseline, presses **Run**, waits for the per-step progress line,
   presses **Stop** and checks that the Run ended early (fewer runs finished than planned);
5. runs the results-browser cell, checks its layout, waits for its figures, unticks a method
   and waits for the selection count to change;
6. saves screenshots (``--screenshots``, default ``/tmp/drive_lab_browser_check``), stops the
   browser and the server, and exits non-zero on any failure.

Needs: ``pip install playwright`` (its own browser download is not needed) and a Chromium binary
(Debian: ``apt-get install chromium``); give another one with ``--chromium``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "06_interactive_ablations.ipynb"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/usr/bin/chromium-browser",
                       "/usr/bin/google-chrome")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
EXPLORER = ".drive-lab-ablation-explorer"
VIEWPORT = {"width": 1024, "height": 768}  # a projector, with JupyterLab's file panel open
BROWSER = ".drive-lab-results-browser"


class CheckFailed(RuntimeError):
    pass


def log(message: str, start: float) -> None:
    print(f"[{time.perf_counter() - start:6.1f} s] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_chromium(given: str | None) -> str:
    for candidate in ([given] if given else []) + list(CHROMIUM_CANDIDATES):
        if candidate and Path(candidate).exists():
            return candidate
        found = shutil.which(candidate) if candidate else None
        if found:
            return found
    raise CheckFailed(f"no Chromium found (tried {', '.join(CHROMIUM_CANDIDATES)}); "
                      "install it (Debian: apt-get install chromium) or pass --chromium PATH")


def stripped_copy(folder: Path) -> Path:
    """The notebook without outputs and saved widget state: only live widget views will appear."""
    notebook = json.loads(NOTEBOOK.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    notebook["metadata"].pop("widgets", None)
    target = folder / NOTEBOOK.name
    target.write_text(json.dumps(notebook, indent=1))
    return target


def start_server(app: str, folder: Path, port: int, token: str, env: dict, server_log: Path) -> subprocess.Popen:
    module = "jupyterlab" if app == "lab" else "notebook"
    command = [sys.executable, "-m", module, "--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
               "--ServerApp.open_browser=False"]
    if app == "lab":
        command.append("--LabApp.extension_manager=readonly")  # no look-ups on PyPI from the check
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI machines often run as root
    handle = open(server_log, "w")
    return subprocess.Popen(command, cwd=folder, env=env, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for_server(port: int, token: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CheckFailed(f"the Jupyter server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise CheckFailed(f"the Jupyter server did not answer within {timeout:.0f} s")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # the server and the kernels it started (same session)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def run_cell(page, index: int) -> None:
    """Select code cell ``index`` (0-based among all cells) in command mode and run it with Shift+Enter."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.scroll_into_view_if_needed()
    cell.locator(".jp-InputPrompt").first.click()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")


def code_cell_index(needle: str) -> int:
    """Index (among all cells, as the page lists them) of the first code cell whose source contains ``needle``."""
    for index, cell in enumerate(json.loads(NOTEBOOK.read_text())["cells"]):
        if cell["cell_type"] == "code" and needle in "".join(cell["source"]):
            return index
    raise CheckFailed(f"no code cell containing {needle!r} in {NOTEBOOK}")


def check_layout(page, widget, name: str, start: float) -> None:
    """The widget fits the page at the viewport's width: nothing sticks out to the right, no horizontal scrolling.

    Also makes sure JupyterLab's file panel is open (the layout a lecturer has)."""
    sidebar = page.locator("#jp-left-stack")
    if sidebar.count() and not sidebar.is_visible():
        page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab").first.click()
        page.wait_for_timeout(500)
    sizes = widget.evaluate("""el => ({scroll: el.scrollWidth, client: el.clientWidth,
        right: el.getBoundingClientRect().right, left: el.getBoundingClientRect().left,
        page: document.documentElement.clientWidth,
        overflowing: [...el.querySelectorAll('*')].filter(c => c.getBoundingClientRect().right >
                                                         el.getBoundingClientRect().right + 1).length})""")
    panel = page.locator("#jp-left-stack").is_visible() if page.locator("#jp-left-stack").count() else False
    log(f"{name} layout at {VIEWPORT['width']}x{VIEWPORT['height']} (file panel open: {panel}): {sizes}", start)
    if sizes["scroll"] > sizes["client"] + 1 or sizes["right"] > sizes["page"] + 1 or sizes["overflowing"]:
        raise CheckFailed(f"the {name} overflows horizontally at {VIEWPORT['width']} px: {sizes}")


def quiet_config(config_dir: Path) -> None:
    """No "get Jupyter news?" prompt (it would fetch from the internet and cover the page)."""
    labconfig = config_dir / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))


def check(app: str, chromium: str, shots: Path, timeout: float, keep: bool) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    start = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="drive_lab_browser_check_"))
    shots.mkdir(parents=True, exist_ok=True)
    stripped_copy(folder)
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, DRIVE_LAB_PRESET="smoke", DRIVE_LAB_PROGRESS="0",
               DRIVE_LAB_RESULTS=str(folder / "store"), JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(folder / "workspaces"), JUPYTER_CONFIG_DIR=str(folder / "config"),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    env.setdefault("OMP_NUM_THREADS", "1")
    quiet_config(folder / "config")
    server_log = folder / "server.log"
    server = start_server(app, folder, port, token, env, server_log)
    try:
        wait_for_server(port, token, server, timeout=60)
        log(f"Jupyter ({app}) is up on 127.0.0.1:{port}", start)
        path = "lab/tree" if app == "lab" else "notebooks"
        url = f"http://127.0.0.1:{port}/{path}/{NOTEBOOK.name}?token={token}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(timeout * 1000)
            messages: list[str] = []
            page.on("console", lambda m: messages.append(f"{m.type}: {m.text}") if m.type == "error" else None)
            try:
                page.goto(url)
                n_cells = len(json.loads(NOTEBOOK.read_text())["cells"])
                page.wait_for_function(f"document.querySelectorAll('.jp-Notebook .jp-Cell').length >= {n_cells}",
                                       timeout=90_000)
                log("notebook open", start)
                settings = code_cell_index("get_preset")
                explorer_cell = code_cell_index("widgets.ablation_explorer(")
                browser_cell = code_cell_index("widgets.results_browser(")
                run_cell(page, settings)
                run_cell(page, explorer_cell)
                explorer = page.locator(EXPLORER)
                explorer.wait_for(state="visible", timeout=120_000)
                explorer.locator("img").nth(2).wait_for(timeout=timeout * 1000)  # the cell presses Run once
                log("explorer rendered with the default setting's results", start)
                check_layout(page, explorer, "explorer", start)
                page.screenshot(path=str(shots / "1_explorer.png"), full_page=False)
                output = explorer.locator(".widget-output, .jupyter-widgets-output-area").first
                before = output.inner_text()
                # move a control: drag the warm-up slider to E = 0 (the preset's E is at least 1)
                warmup = explorer.locator(".widget-slider", has_text="warm-up epochs E").first
                readout = warmup.locator(".widget-readout").first
                old_value = readout.inner_text().strip()
                handle = warmup.locator(".noUi-handle").first
                handle.scroll_into_view_if_needed()
                box = handle.bounding_box()
                page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                page.mouse.down()  # drag the handle well to the left: E = 0
                page.mouse.move(box["x"] - 80, box["y"] + box["height"] / 2, steps=8)
                page.mouse.up()
                page.wait_for_function("([el, old]) => el.innerText.trim() !== old",
                                       arg=[readout.element_handle(), old_value], timeout=10_000)
                new_value = readout.inner_text().strip()
                log(f"moved warm-up epochs E from {old_value} to {new_value}", start)
                explorer.locator(".drive-lab-stale").wait_for(timeout=10_000)  # live validation: old results cleared
                if explorer.locator("img").count():
                    raise CheckFailed("results of the old setting are still shown after a control changed")
                explorer.get_by_role("button", name="Run").click()
                explorer.locator(".drive-lab-done").wait_for(timeout=timeout * 1000)
                explorer.locator("img").nth(2).wait_for(timeout=30_000)
                after = output.inner_text()
                if after == before or f"E={new_value}" not in after:
                    raise CheckFailed(f"the output did not change as expected: {after[:300]!r}")
                status = explorer.locator(".drive-lab-done").inner_text()
                log(f"Run finished; status: {status!r}; output starts: {after[:160]!r}", start)
                explorer.locator("img").first.scroll_into_view_if_needed()
                page.screenshot(path=str(shots / "2_explorer_after_run.png"), full_page=False)
                # Stop during a Run: more seeds and a baseline make several runs; stop at the first steps
                for label in ("seed 1", "seed 2", "Magnitude"):
                    explorer.get_by_role("checkbox", name=label, exact=True).check()
                explorer.get_by_role("button", name="Run").click()
                progress = explorer.locator(".drive-lab-progress")
                progress.wait_for(timeout=60_000)
                progress_text = progress.inner_text()
                explorer.locator(".widget-button", has_text="Stop").first.scroll_into_view_if_needed()
                page.screenshot(path=str(shots / "3_explorer_running.png"), full_page=False)
                explorer.get_by_role("button", name="Stop").click()
                stopped = explorer.locator(".drive-lab-stopped")
                stopped.wait_for(timeout=60_000)
                stopped_text = stopped.inner_text()
                found = re.search(r"after (\d+) of (\d+) run", stopped_text)
                if not found or int(found.group(1)) >= int(found.group(2)):
                    raise CheckFailed(f"Stop did not end the Run early: {stopped_text!r}")
                log(f"progress while running: {progress_text!r}; after Stop: {stopped_text!r}", start)
                page.screenshot(path=str(shots / "4_explorer_stopped.png"), full_page=False)
                run_cell(page, browser_cell)
                results = page.locator(BROWSER)
                results.locator("img").nth(2).wait_for(timeout=60_000)
                check_layout(page, results, "results browser", start)
                first_status = results.locator(".drive-lab-done").inner_text()
                results.get_by_role("checkbox", name="SNIP", exact=True).uncheck()
                page.wait_for_function(  # the status span is replaced when it changes: look it up each time
                    "old => { const e = document.querySelector('" + BROWSER + " .drive-lab-done');"
                    " return e !== null && e.innerText !== old; }", arg=first_status, timeout=30_000)
                second_status = results.locator(".drive-lab-done").inner_text()
                log(f"browser: {first_status!r} -> {second_status!r} after unticking SNIP", start)
                results.evaluate("el => el.scrollIntoView({block: 'start'})")
                page.screenshot(path=str(shots / "5_results_browser.png"), full_page=False)
                errors = explorer.locator(".drive-lab-error").count() + results.locator(".drive-lab-error").count()
                if errors:
                    raise CheckFailed("a widget shows an error message")
            except (PlaywrightTimeout, CheckFailed) as error:
                page.screenshot(path=str(shots / "failure.png"), full_page=True)
                raise CheckFailed(f"{error}\nscreenshot: {shots / 'failure.png'}\nbrowser console errors: "
                                  f"{messages[-5:]}\nserver log: {server_log}") from None
            finally:
                browser.close()
        widget_errors = [m for m in messages if re.search(r"widget|jupyter-widgets", m, re.IGNORECASE)]
        if widget_errors:
            raise CheckFailed(f"widget errors in the browser console: {widget_errors[:5]}")
        log(f"PASS ({app}); screenshots in {shots}", start)
    finally:
        stop_server(server)
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", choices=["lab", "notebook"], default="lab", help="JupyterLab 4 or Notebook 7")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM"), help="Chromium executable")
    parser.add_argument("--screenshots", type=Path, default=Path(tempfile.gettempdir()) / "drive_lab_browser_check")
    parser.add_argument("--timeout", type=float, default=180, help="seconds allowed for one step (e.g. a Run)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (server log, store)")
    args = parser.parse_args(argv)
    try:
        import playwright  # noqa: F401
    except ImportError:
        print("browser check: needs `pip install playwright`", file=sys.stderr)
        return 2
    try:
        check(args.app, find_chromium(args.chromium), args.screenshots, args.timeout, args.keep)
    except CheckFailed as error:
        print(f"browser check FAILED: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
