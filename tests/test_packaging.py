"""The project's set-up files agree with each other and with the README."""
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def environment_pip_requirements():
    """The `- pip:` entries of environment.yml (a tiny reader: no YAML dependency needed)."""
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    indent = len(lines[start + 1]) - len(lines[start + 1].lstrip())
    requirements = []
    for line in lines[start + 1:]:
        if not line.strip() or line.strip().startswith("#"):
            continue
        if len(line) - len(line.lstrip()) < indent:
            break
        requirements.append(line.strip()[2:].strip())
    return requirements


def test_environment_yml_matches_pyproject():
    project = pyproject()["project"]
    expected = project["dependencies"] + project["optional-dependencies"]["dev"]
    assert sorted(environment_pip_requirements()) == sorted(expected)
    python = re.search(r"-\s*python\s*=\s*([\d.]+)", (ROOT / "environment.yml").read_text()).group(1)
    minimum = re.search(r">=\s*([\d.]+)", project["requires-python"]).group(1)
    assert tuple(map(int, python.split("."))) >= tuple(map(int, minimum.split(".")))


def test_runtime_dependencies_are_the_documented_ones():
    names = {re.split(r"[<>=!~ ]", d)[0].lower() for d in pyproject()["project"]["dependencies"]}
    assert names == {"torch", "torchvision", "matplotlib", "ipywidgets", "tqdm", "pandas", "scikit-learn", "scipy", "filelock"}
    dev = {re.split(r"[<>=!~ ]", d)[0].lower() for d in pyproject()["project"]["optional-dependencies"]["dev"]}
    assert {"pytest", "nbval", "jupyterlab", "notebook", "playwright"} <= dev


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = ci.strip().splitlines()[-1].strip()
    assert command in readme, f"README must show CI's test command: {command}"
    assert "python -m drive_lab run" in readme


def test_version_agrees():
    import drive_lab

    assert drive_lab.__version__ == pyproject()["project"]["version"]
