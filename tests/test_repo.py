"""The set-up promised in README.md: one package list, the pinned CPU torch, CI running the README's commands."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def bash_blocks(text):
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_readme_has_the_two_commands_and_ci_runs_them():
    blocks = [b.strip() for b in bash_blocks(README)]
    setup = "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt"
    assert blocks[0] == f"{setup} && .venv/bin/jupyter lab notebooks/01_loss_functions.ipynb"
    assert blocks[1] == f"{setup} && .venv/bin/python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install --quiet -r requirements.txt' in ci and '"$VENV/bin/python" -m pytest' in ci
    assert "-eq 5" in ci  # "no tests collected" is handled explicitly


def test_requirements_pin_cpu_torch_and_install_nblib():
    lines = [l.split("#")[0].strip() for l in (ROOT / "requirements.txt").read_text().splitlines()]
    lines = [l for l in lines if l]
    assert "-e ." in lines
    assert "torch==2.13.0" in lines
    assert [l for l in lines if l.startswith("torch")] == ["torch==2.13.0"]
    assert not any(l.startswith(("torchvision", "torchaudio")) for l in lines)
    pinned = [l for l in lines if "==" in l and not l.startswith("torch==")]
    assert not pinned, f"keep other pins loose: {pinned}"


def test_environment_yml_uses_the_same_list():
    env = (ROOT / "environment.yml").read_text()
    assert "- -r requirements.txt" in env
    deps = re.findall(r"^\s+- (\S+)", env, flags=re.M)
    assert set(deps) <= {"conda-forge", "python=3.11", "pip", "pip:", "-r"}, deps


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
