"""The set-up promised in README.md: a learner's list and a developer's list, the pinned CPU torch,
CI running the README's commands, Windows commands beside them, the licence, notebook hygiene
(nbdime, no execution timestamps) and the JupyterLab settings the install puts in place."""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent
SETUP = "python3 -m venv .venv && .venv/bin/pip install -r"
LEARNER = {"torch", "numpy", "matplotlib", "ipywidgets", "jupyterlab", "ipykernel", "scikit-learn", "tqdm"}
TEST_STACK = {"pytest", "pytest-xdist", "nbval", "nbformat", "nbclient", "nbconvert", "playwright",
              "nbgrader", "jupyterhub", "nbgitpuller", "nbdime", "psutil", "requests"}


def blocks(text, lang):
    return [b.strip() for b in re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)]


def bash_blocks(text):
    return blocks(text, "bash")


def requirement_lines(name):
    lines = [l.split("#")[0].strip() for l in (ROOT / name).read_text(encoding="utf-8").splitlines()]
    return [l for l in lines if l]


def project(line):
    return re.split(r"[<>=!~\[ ;]", line, maxsplit=1)[0].lower()


def test_readme_first_command_opens_the_exercise_edition_and_ci_runs_the_test_command():
    bash = bash_blocks(README)
    first = f"{SETUP} requirements.txt && .venv/bin/jupyter lab student/01_loss_functions.ipynb"
    assert bash[0] == first and (ROOT / "student" / "01_loss_functions.ipynb").exists()
    start = README[README.index("## Start"):]
    assert "`notebooks/` one folder over holds the worked notebooks" in start.split("```")[2]
    test_cmd = f"{SETUP} requirements-dev.txt && .venv/bin/python -m pytest"
    assert bash[1] == test_cmd
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert '"$VENV/bin/python" -m pip install --quiet -r requirements-dev.txt' in ci
    assert '"$VENV/bin/python" -m pytest' in ci and "requirements.txt" not in ci.replace("requirements-dev.txt", "")
    assert "-eq 5" in ci  # "no tests collected" is handled explicitly


def test_readme_has_the_windows_commands_beside_them():
    ps = blocks(README, "powershell")
    assert ps[0].splitlines() == ["python -m venv .venv", ".venv\\Scripts\\python -m pip install -r requirements.txt",
                                  ".venv\\Scripts\\jupyter lab student\\01_loss_functions.ipynb"]
    assert ps[1].splitlines() == ["python -m venv .venv", ".venv\\Scripts\\python -m pip install -r requirements-dev.txt",
                                  ".venv\\Scripts\\python -m pytest"]
    assert README.index("```powershell") < README.index(f"{SETUP} requirements-dev.txt")  # first pair, then second


def test_readme_gives_the_cpu_torch_command_and_the_no_wheel_advice():
    assert ".venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in README
    assert "No matching distribution found for torch==2.13.0" in README
    assert "## Troubleshooting" in README
    for needle in ("only a picture", "wrong kernel", "python -m tools.edition --reset", "Jupyter news"):
        assert needle in README, needle


def test_requirements_learner_list_and_dev_list():
    learner = requirement_lines("requirements.txt")
    assert learner[:2] == ["-e .", "./jupyter-settings"]
    assert {project(l) for l in learner[2:]} == LEARNER
    assert [l for l in learner if l.startswith("torch")] == ["torch==2.13.0"]
    assert not any(l.startswith(("torchvision", "torchaudio")) for l in learner)
    pinned = [l for l in learner if "==" in l and not l.startswith("torch==")]
    assert not pinned, f"keep other pins loose: {pinned}"
    dev = requirement_lines("requirements-dev.txt")
    assert dev[0] == "-r requirements.txt"
    assert {project(l) for l in dev[1:]} == TEST_STACK
    assert [l for l in dev if "==" in l] == ["nbgrader==0.9.6"]       # the version tests/test_nbgrader.py runs


def test_the_dev_environment_has_the_tested_nbgrader():
    from importlib.metadata import version
    assert version("nbgrader") == "0.9.6"


def test_environment_yml_and_binder_use_the_learner_list():
    env = (ROOT / "environment.yml").read_text()
    assert "- -r requirements.txt" in env
    deps = re.findall(r"^\s+- (\S+)", env, flags=re.M)
    assert set(deps) <= {"conda-forge", "python=3.11", "pip", "pip:", "-r"}, deps
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "-r requirements.txt" in post and "download.pytorch.org/whl/cpu" in post


def test_licence_and_project_metadata():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "the course authors" in text
    try:
        import tomllib
    except ModuleNotFoundError:     # Python 3.10
        pytest.skip("tomllib needs Python 3.11")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["license"] == "MIT" and meta["license-files"] == ["LICENSE"]
    assert meta["authors"] == [{"name": "the course authors"}]


def test_no_execution_timestamps_in_committed_notebooks():
    stamped = {}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = [k for k, c in enumerate(nb["cells"]) if "execution" in c.get("metadata", {})]
        if cells:
            stamped[path.name] = len(cells)
    assert not stamped, f"strip metadata.execution (nbclient's timestamps) from the cells of {stamped}"


def test_gitattributes_route_notebooks_to_nbdime(tmp_path):
    assert "*.ipynb diff=jupyternotebook merge=jupyternotebook" in (ROOT / ".gitattributes").read_text()
    assert "nbdime config-git --enable" in README
    driver = BIN / "git-nbdiffdriver"
    if shutil.which("git") is None or not driver.exists():
        pytest.skip("git or nbdime (requirements-dev.txt) missing")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main"]
    shutil.copy(ROOT / ".gitattributes", tmp_path / ".gitattributes")
    nb = json.loads((ROOT / "student" / "01_loss_functions.ipynb").read_text(encoding="utf-8"))
    (tmp_path / "a.ipynb").write_text(json.dumps(nb, indent=1), encoding="utf-8")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "a"]):
        subprocess.run([*git, *args], cwd=tmp_path, check=True, capture_output=True)
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    subprocess.run([str(BIN / "nbdime"), "config-git", "--enable"], cwd=tmp_path, check=True, env=env,
                   capture_output=True)
    nb["cells"][0]["source"] = "# A changed title\n"
    (tmp_path / "a.ipynb").write_text(json.dumps(nb, indent=1), encoding="utf-8")
    out = subprocess.run(["git", "diff", "--no-color"], cwd=tmp_path, env=env, capture_output=True, text=True).stdout
    assert "## modified /cells/0/source:" in out and "A changed title" in out     # nbdime's cell-wise diff


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_jupyterlab_settings_turn_off_the_news_popup():
    """The file jupyter-settings/ installs is in this environment, and a running JupyterLab serves
    fetchNews "false" as the default (its front end asks only while the value is "none")."""
    repo_file = ROOT / "jupyter-settings" / "default_setting_overrides.json"
    wanted = json.loads(repo_file.read_text(encoding="utf-8"))
    assert wanted["@jupyterlab/apputils-extension:notification"] == {"fetchNews": "false", "checkForUpdates": False}
    installed = Path(sys.prefix) / "etc" / "jupyter" / "labconfig" / "default_setting_overrides.json"
    assert installed.exists(), "pip install -r requirements.txt puts it there (./jupyter-settings)"
    assert json.loads(installed.read_text(encoding="utf-8")) == wanted
    requests = pytest.importorskip("requests")
    token, port = secrets.token_hex(16), _free_port()
    lab = subprocess.Popen([str(BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                            f"--ServerApp.token={token}", f"--ServerApp.root_dir={ROOT}",
                            *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/lab/api/settings/@jupyterlab/apputils-extension:notification"
        for _ in range(300):
            try:
                r = requests.get(url, headers={"Authorization": f"token {token}"}, timeout=2)
                if r.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        props = r.json()["schema"]["properties"]
        assert props["fetchNews"]["default"] == "false" and props["checkForUpdates"]["default"] is False
    finally:
        lab.terminate()
        lab.wait(timeout=30)


def test_readme_table_lists_every_notebook():
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"(notebooks/{nb.name})" in README, f"{nb.name} missing from README's table"


def test_notebooks_committed_executed_in_order():
    for nb_path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        counts = [c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code"]
        assert counts == list(range(1, len(counts) + 1)), f"{nb_path.name}: execution counts {counts}"
        assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_every_public_function_and_class_of_nblib_has_a_docstring():
    import importlib
    import inspect
    import pkgutil

    import nblib

    missing = []
    for info in pkgutil.walk_packages(nblib.__path__, "nblib."):
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name, None)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__:
                if len((obj.__doc__ or "").strip()) < 20:
                    missing.append(f"{info.name}.{name}")
    assert not missing, f"public names without a docstring: {missing}"
