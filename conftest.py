"""Test-session settings, read before any notebook kernel starts (kernels inherit them).

Notebooks run with the ``smoke`` preset unless DRIVE_LAB_PRESET is set; progress bars are
off; results computed by tests go to a temporary store, never into the repo's results/.
"""
import os
import tempfile

os.environ.setdefault("DRIVE_LAB_PRESET", "smoke")
os.environ.setdefault("DRIVE_LAB_PROGRESS", "0")
os.environ.setdefault("DRIVE_LAB_RESULTS", tempfile.mkdtemp(prefix="drive_lab_test_results_"))
