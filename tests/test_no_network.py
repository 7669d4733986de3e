"""The course needs no network: notebooks run with sockets blocked; nothing downloads,
nothing loads a pickle, no command starts Jupyter without its token.

How networking is blocked: :func:`tools.netguard.offline_env` puts a ``sitecustomize``
module (``tools/netguard/site/sitecustomize.py``) on the kernel's ``PYTHONPATH``. It runs at
interpreter start, before any notebook code, and refuses every connection, datagram and
name lookup to a host that is not loopback (the kernel itself talks to this process over
ZMQ on 127.0.0.1). The first tests prove that the guard blocks and that loopback still
works, inside a real kernel; then every notebook is executed once under it. Together
with nbval's run, that run also shows each notebook reproducing its stored outputs.

If ``tests/conftest.py`` puts the guard into the environment of every kernel (see
``tests/notebook_runner.kernels_offline``), nbval's own run is already the offline run
and the extra execution here is skipped for the notebooks nbval runs in the session.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools.netguard import offline_env
from tools.notebooks import execute_notebook
from notebook_runner import (REPO, difference_from_stored, kernels_offline, nbval_runs, notebook_params,
                             run_offline)

PROBE = r'''
import socket, urllib.request
def attempt(label, fn):
    try:
        fn()
        print(label, "OPEN")
    except Exception as exc:
        reason = getattr(exc, "reason", exc)
        print(label, "blocked" if type(reason).__name__ == "NetworkBlockedError" else f"other {type(exc).__name__}")
attempt("tcp", lambda: socket.create_connection(("198.51.100.7", 80), timeout=2))
attempt("dns", lambda: socket.getaddrinfo("example.com", 443))
attempt("http", lambda: urllib.request.urlopen("http://example.com/", timeout=2))
attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.1", 53)))
'''

LOOPBACK = r'''
import socket
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
cli = socket.create_connection(srv.getsockname(), timeout=2)
conn, _ = srv.accept(); cli.sendall(b"ping"); print("loopback", conn.recv(4).decode())
'''


def test_guard_blocks_the_network_inside_a_kernel(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(PROBE), nbformat.v4.new_code_cell(LOOPBACK)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    run = execute_notebook(path, env=offline_env(), timeout=60)
    assert run.error is None, run.error
    text = "".join(o.get("text", "") for c in run.nb.cells for o in c.outputs if o.output_type == "stream")
    assert text.splitlines() == ["tcp blocked", "dns blocked", "http blocked", "udp blocked", "loopback ping"]


def test_guard_is_what_blocks():
    """Control: the same name lookup without the guard is not refused by it (whatever the
    machine's network does), with the guard it is."""
    code = ("import socket\ntry:\n    socket.getaddrinfo('example.com', 443)\n    print('resolved')\n"
            "except Exception as e:\n    print(type(e).__name__)\n")
    plain = dict(os.environ)
    plain.pop("NBLIB_OFFLINE", None)
    plain["PYTHONPATH"] = os.pathsep.join(  # without any guard this process may carry
        p for p in plain.get("PYTHONPATH", "").split(os.pathsep)
        if p and not (Path(p) / "sitecustomize.py").is_file())
    without = subprocess.run([sys.executable, "-c", code], env=plain, capture_output=True, text=True, timeout=60)
    with_guard = subprocess.run([sys.executable, "-c", code], env=offline_env(), capture_output=True, text=True,
                                timeout=60)
    assert with_guard.stdout.strip() == "NetworkBlockedError"
    assert without.stdout.strip() != "NetworkBlockedError"


@pytest.mark.parametrize("path", notebook_params())
def test_notebook_runs_offline_and_reproduces_its_outputs(path, request):
    if kernels_offline() and nbval_runs(request, path):
        pytest.skip("nbval's own run of this notebook is already offline (kernels start with the guard)")
    run = run_offline(path)
    assert run.error is None, f"{path.name} failed with networking blocked:\n{run.error}"
    diff = difference_from_stored(path, run)
    assert diff is None, f"{path.name}: an offline run differs from the stored outputs: {diff}"
    for cell in run.nb.cells:
        for out in cell.get("outputs", []):
            text = json.dumps(out.get("text", "")) + json.dumps(out.get("data", {}).get("text/plain", ""))
            assert "RuntimeWarning" not in text, f"{path.name}: a RuntimeWarning reached the output"


# ------------------------------------------------------------------------------------
# Static checks over the repository's own files
# ------------------------------------------------------------------------------------
def _repo_files():
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    files = [REPO / f for f in out if f and (REPO / f).is_file()]
    if not files:
        pytest.skip("not a git checkout")
    return files


def _source(path: Path) -> str:
    """Text to scan: a notebook's code cells (not its outputs); other files whole."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        nb = nbformat.reads(text, as_version=4)
        return "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return text


THIS = Path(__file__).resolve()
CODE_SUFFIXES = {".py", ".ipynb", ".sh", ".cfg", ".toml", ".yml", ".yaml", ".md", ".txt", ".json", ""}

PICKLE_LOADS = [
    (r"\bpickle\.loads?\(|\bcPickle\b|\bdill\.loads?\(|\bjoblib\.load\(|\bshelve\.open\(|read_pickle\(",
     "pickle loading"),
    (r"allow_pickle\s*=\s*True", "np.load with allow_pickle=True"),
    (r"torch\.load\((?![^)]*weights_only\s*=\s*True)", "torch.load without weights_only=True"),
]


def test_nothing_loads_a_pickle():
    found = []
    for path in _repo_files():
        if path.resolve() == THIS or path.suffix not in CODE_SUFFIXES:
            continue
        text = _source(path)
        for rx, what in PICKLE_LOADS:
            for match in re.finditer(rx, text):
                line = text[:match.start()].count("\n") + 1
                found.append(f"{path.relative_to(REPO)}:{line}: {what}")
    assert not found, "pickle loading found:\n" + "\n".join(found)


EMPTY_TOKEN = re.compile(r"(ServerApp|NotebookApp|IdentityProvider)\.(token|password)\s*=\s*(''|\"\"|(?=\s|$))",
                         re.MULTILINE)


def test_no_command_starts_jupyter_without_its_token():
    found = []
    for path in _repo_files():
        if path.resolve() == THIS or path.suffix not in CODE_SUFFIXES:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in EMPTY_TOKEN.finditer(text):
            line = text[:match.start()].count("\n") + 1
            found.append(f"{path.relative_to(REPO)}:{line}: {match.group(0)!r}")
        for match in re.finditer(r"--no-?token|disable_check_xsrf\s*=\s*True", text):
            found.append(f"{path.relative_to(REPO)}: {match.group(0)!r}")
    assert not found, "Jupyter started without its token:\n" + "\n".join(found)


NETWORK_CALLS = re.compile(r"urlopen\(|\brequests\.(get|post|Session)\b|urllib\.request|http\.client|"
                           r"\bfetch_(openml|lfw|olivetti|20newsgroups|covtype|kddcup99|california|rcv1|species)|"
                           r"download\s*=\s*True|torch\.hub\.|load_dataset\(|!\s*(pip|wget|curl)\b|%pip\b")


def test_notebooks_and_nblib_download_nothing():
    """Notebook code cells and nblib modules: no HTTP clients, dataset fetchers or installs."""
    found = []
    for path in _repo_files():
        rel = path.relative_to(REPO)
        if not (rel.parts[0] in ("notebooks", "nblib") and path.suffix in (".py", ".ipynb")):
            continue
        text = _source(path)
        for match in NETWORK_CALLS.finditer(text):
            line = text[:match.start()].count("\n") + 1
            found.append(f"{rel}:{line}: {match.group(0)!r}")
    assert not found, "network access in course code:\n" + "\n".join(found)
