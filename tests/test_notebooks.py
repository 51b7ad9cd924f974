"""Every notebook is tested by nbval, carries committed outputs, and follows the course layout."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = ["00_overview", "01_score_terms", "02_baselines_and_layer_collapse",
            "03_ablation_convergence_sensitivity", "04_ablation_warmup_epochs", "05_full_pruning_runs",
            "06_interactive_ablations", "07_reproduction_report"]


def cells(path):
    return json.loads(path.read_text())["cells"]


def source(cell):
    return "".join(cell["source"])


def test_the_course_is_complete():
    names = [p.stem for p in NOTEBOOKS]
    for name in EXPECTED:
        assert name in names, f"notebooks/{name}.ipynb is missing"


def test_every_notebook_is_collected_by_pytest():
    """A notebook cannot silently escape testing: pytest's own collection lists each one."""
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "notebooks"], cwd=ROOT,
                         capture_output=True, text=True).stdout
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}::" in out, f"{path.name} is not collected by nbval"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_without_errors(path):
    code = [c for c in cells(path) if c["cell_type"] == "code" and source(c).strip()]
    assert code, "no code cells"
    without = [source(c)[:60] for c in code if not c.get("outputs")]
    # some cells only define things; most must show something
    assert len(without) < len(code) / 2, f"too many cells without committed output: {without}"
    for c in code:
        for output in c.get("outputs", []):
            assert output["output_type"] != "error", f"committed error output in: {source(c)[:80]}"
            text = "".join(output.get("text", "")) if output["output_type"] == "stream" else ""
            assert "Traceback" not in text, f"a traceback was printed in: {source(c)[:80]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_course_layout(path):
    all_cells = cells(path)
    assert all_cells[0]["cell_type"] == "markdown" and "learning objectives" in source(all_cells[0]).lower()
    first_code = next(c for c in all_cells if c["cell_type"] == "code")
    assert "get_preset" in source(first_code), "the first code cell is the settings cell reading the preset"
    headings = [source(c).lower() for c in all_cells if c["cell_type"] == "markdown"]
    assert any(h.lstrip("# ").startswith("summary") for h in headings)
    assert any(h.lstrip("# ").startswith("exercises") for h in headings)
    assert any("exercises.check_" in source(c) for c in all_cells if c["cell_type"] == "code")
    for c in all_cells:
        assert "clear_output" not in source(c), "no live clear_output animations in tested cells"
    assert any("NBVAL_CHECK_OUTPUT" in source(c) for c in all_cells if c["cell_type"] == "code"), \
        "mark at least one preset-independent cell with NBVAL_CHECK_OUTPUT"
    for c in all_cells:
        if c["cell_type"] == "code":
            assert len(source(c).strip().splitlines()) <= 15, f"notebook cells stay short: {source(c)[:80]}"
