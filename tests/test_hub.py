"""Serving a class: JupyterHub on 127.0.0.1, students log in, pull the student edition, run a notebook.

Marker ``hub`` (about 30-60 s). What it does, as an instructor's hub would:

* configurable-http-proxy from the npm registry, installed once into ``build/node_modules``
  (skipped with a reason when ``npm`` is missing or cannot install it);
* JupyterHub with a DummyAuthenticator behind a random password (a wrong password is refused)
  and ``SimpleLocalProcessSpawner`` (one process per student, home folders in a temp folder);
* three students log in through the login form; each server is started;
* nbgitpuller pulls a student-only repository (the ``student/`` edition, no ``notebooks/``)
  from a local git repository into every student's home;
* one student runs ``student/01_loss_functions.ipynb`` cell by cell on their server through
  the REST + websocket kernel API: no cell errors, and the checkers say "not implemented yet";
* it measures hub start, user-server start, memory per user server and per kernel (USS and
  RSS), prints them, and shuts everything down by PID.

The figures in the instructor guide (notebooks/README.md, "Running the course on a
JupyterHub") come from this test's printout.
"""

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BUILD = ROOT / "build"
CHP = BUILD / "node_modules" / ".bin" / "configurable-http-proxy"
USERS = ("ada", "bo", "chen")
NOTEBOOK = "student/01_loss_functions.ipynb"

pytestmark = pytest.mark.hub

psutil = pytest.importorskip("psutil")
requests = pytest.importorskip("requests")
pytest.importorskip("jupyterhub")
pytest.importorskip("nbgitpuller")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proxy():
    if CHP.exists():
        return CHP
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is missing: configurable-http-proxy comes from the npm registry "
                    "(apt-get install npm, or npm install configurable-http-proxy)")
    BUILD.mkdir(exist_ok=True)
    proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(BUILD),
                           "configurable-http-proxy"], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or not CHP.exists():
        pytest.skip(f"npm could not install configurable-http-proxy: {proc.stderr[-500:]}")
    return CHP


def _mib(nbytes):
    return nbytes / 2**20


def _memory(proc):
    info = proc.memory_full_info()
    return _mib(info.uss), _mib(info.rss)


def _student_repository(where: Path) -> Path:
    """A git repository holding only what students get: student/ and a README (no notebooks/)."""
    repo = where / "course-student"
    (repo / "student").mkdir(parents=True)
    for nb in sorted((ROOT / "student").glob("[0-9][0-9]_*.ipynb")):
        shutil.copy(nb, repo / "student" / nb.name)
    (repo / "README.md").write_text("Exercise edition of the course (student/).\n", encoding="utf-8")
    git = ["git", "-c", "user.name=course", "-c", "user.email=course@example.invalid", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "student edition"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    return repo


def _wait_http(url, timeout, ok=(200,), **kw):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        try:
            if requests.get(url, timeout=2, **kw).status_code in ok:
                return time.perf_counter() - t0
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def _run_notebook_on_server(base, token, path):
    """Start a kernel for ``path`` through the server's sessions API and execute every code
    cell over the kernel's websocket; return ``(kernel_id, outputs_text, errors)``."""
    from tornado import ioloop, websocket
    from tornado.httpclient import HTTPRequest

    headers = {"Authorization": f"token {token}"}
    r = requests.post(f"{base}/api/sessions", headers=headers, timeout=30,
                      json={"path": path, "type": "notebook", "name": Path(path).name, "kernel": {"name": "python3"}})
    assert r.status_code == 201, r.text
    kernel_id = r.json()["kernel"]["id"]
    nb = requests.get(f"{base}/api/contents/{path}", headers=headers, timeout=30).json()["content"]
    cells = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
             for c in nb["cells"] if c["cell_type"] == "code"]
    cells.append("import os, nblib\nprint('NBLIB_AT', os.path.dirname(os.path.abspath(nblib.__file__)))\n"
                 "print('CWD', os.getcwd())")

    async def run():
        ws_url = base.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels"
        conn = await websocket.websocket_connect(HTTPRequest(ws_url, headers=headers))
        session, texts, errors = uuid.uuid4().hex, [], []
        for code in cells:
            msg_id = uuid.uuid4().hex
            conn.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                           "session": session, "date": "", "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True,
                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
            replied = idle = False  # iopub output can arrive after the shell reply: wait for both
            while not (replied and idle):
                raw = await conn.read_message()
                assert raw is not None, "the kernel's websocket closed"
                if not isinstance(raw, str):
                    continue        # a binary (buffers) message: widgets, not needed here
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    texts.append(content["text"])
                elif kind in ("execute_result", "display_data"):
                    texts.append(content["data"].get("text/plain", ""))
                elif kind == "error":
                    errors.append(f"{content['ename']}: {content['evalue']}")
                elif kind == "execute_reply" and msg["channel"] == "shell":
                    replied = True
                elif kind == "status" and content.get("execution_state") == "idle":
                    idle = True
        conn.close()
        return texts, errors

    texts, errors = ioloop.IOLoop.current().run_sync(run, timeout=300)
    return kernel_id, "".join(texts), errors


def test_hub_class_of_three(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is missing: nbgitpuller pulls with git")
    chp = _proxy()
    repo = _student_repository(tmp_path)
    homes = tmp_path / "home"
    homes.mkdir()
    password, api_token = secrets.token_urlsafe(16), secrets.token_hex(32)
    port, hub_port, api_port = _free_port(), _free_port(), _free_port()
    base = f"http://127.0.0.1:{port}"
    (tmp_path / "jupyterhub_config.py").write_text(f"""
c = get_config()
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{str(chp)!r}]
c.JupyterHub.db_url = "sqlite:///{tmp_path / 'hub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(tmp_path / 'cookie_secret')!r}
c.JupyterHub.pid_file = {str(tmp_path / 'hub.pid')!r}
c.JupyterHub.cleanup_servers = True
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allowed_users = {set(USERS)!r}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(homes) + '/{username}'!r}
c.Spawner.cmd = [{str(BIN / 'jupyterhub-singleuser')!r}]
c.Spawner.args = ["--allow-root"] if {os.geteuid() == 0} else []
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {{"OMP_NUM_THREADS": "1"}}
c.JupyterHub.services = [{{"name": "course-test", "api_token": {api_token!r}}}]
c.JupyterHub.load_roles = [{{"name": "course-test", "services": ["course-test"],
                            "scopes": ["admin:users", "admin:servers", "tokens", "access:servers"]}}]
""", encoding="utf-8")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    log = open(tmp_path / "hub.log", "w")
    t0 = time.perf_counter()
    hub = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(tmp_path / "jupyterhub_config.py")],
                           cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    hub_ps = psutil.Process(hub.pid)
    admin = {"Authorization": f"token {api_token}"}
    figures, started_pids = {}, set()
    try:
        _wait_http(f"{base}/hub/api/", 60)
        figures["hub start (s)"] = time.perf_counter() - t0

        # students log in through the form; a wrong password is refused
        sessions = {}
        for user in USERS:
            s = requests.Session()
            s.get(f"{base}/hub/login", timeout=30)
            bad = s.post(f"{base}/hub/login?next=", timeout=30, allow_redirects=False,
                         data={"username": user, "password": password + "x", "_xsrf": s.cookies.get("_xsrf")})
            assert bad.status_code == 403, (bad.status_code, bad.text[:300])
            ok = s.post(f"{base}/hub/login?next=", timeout=30, allow_redirects=False,
                        data={"username": user, "password": password, "_xsrf": s.cookies.get("_xsrf")})
            assert ok.status_code == 302, (ok.status_code, ok.text[:300])
            assert requests.get(f"{base}/hub/api/users/{user}", headers=admin, timeout=30).json()["name"] == user
            sessions[user] = s

        # start every student's server (concurrently, as at the start of a lecture)
        t1 = time.perf_counter()
        for user in USERS:
            r = requests.post(f"{base}/hub/api/users/{user}/server", headers=admin, timeout=30)
            assert r.status_code in (201, 202), r.text
        tokens = {}
        for user in USERS:
            tokens[user] = requests.post(f"{base}/hub/api/users/{user}/tokens", headers=admin, timeout=30,
                                         json={"note": "course test", "expires_in": 600}).json()["token"]
            _wait_http(f"{base}/user/{user}/api/status", 150, headers={"Authorization": f"token {tokens[user]}"})
        figures[f"{len(USERS)} user servers ready, started together (s)"] = time.perf_counter() - t1

        # nbgitpuller: pull the student-only repository into each home
        t2 = time.perf_counter()
        for user in USERS:
            r = requests.get(f"{base}/user/{user}/git-pull/api", timeout=120, stream=False,
                             headers={"Authorization": f"token {tokens[user]}"},
                             params={"repo": repo.as_uri(), "branch": "main", "targetpath": "gd-course"})
            assert r.status_code == 200 and '"phase": "finished"' in r.text, r.text[-1000:]
            pulled = homes / user / "gd-course"
            assert (pulled / NOTEBOOK).exists() and (pulled / "README.md").exists()     # the whole repository
            assert not (pulled / "notebooks").exists() and not (pulled / "nblib").exists()
        figures["nbgitpuller, per student (s)"] = (time.perf_counter() - t2) / len(USERS)

        servers = [p for p in hub_ps.children(recursive=True) if "jupyterhub-singleuser" in " ".join(p.cmdline())]
        assert len(servers) == len(USERS), [p.cmdline() for p in hub_ps.children(recursive=True)]
        started_pids |= {p.pid for p in hub_ps.children(recursive=True)}
        idle_server = [_memory(p) for p in servers]

        # one student runs the first notebook on their server
        user = USERS[0]
        t3 = time.perf_counter()
        kernel_id, text, errors = _run_notebook_on_server(f"{base}/user/{user}", tokens[user], f"gd-course/{NOTEBOOK}")
        figures["run student/01 on the server (s)"] = time.perf_counter() - t3
        assert not errors, errors
        assert "not implemented yet" in text
        # the kernel runs in the pulled folder but imports the nblib installed in the image (the
        # student-only repository has none): the image's nblib must match the notebooks' version
        found = dict(re.findall(r"(NBLIB_AT|CWD) (\S+)\n", text))
        assert Path(found["CWD"]) == homes / user / "gd-course" / "student"
        import nblib
        assert Path(found["NBLIB_AT"]) == Path(nblib.__file__).resolve().parent
        assert not Path(found["NBLIB_AT"]).is_relative_to(homes)
        kernels = [p for p in hub_ps.children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]
        assert len(kernels) == 1
        started_pids |= {p.pid for p in hub_ps.children(recursive=True)}
        figures["kernel after running 01, USS / RSS (MiB)"] = "%.0f / %.0f" % _memory(kernels[0])
        figures["idle user server, USS / RSS (MiB)"] = "%.0f / %.0f" % tuple(
            sum(m[i] for m in idle_server) / len(idle_server) for i in (0, 1))
        proxy = [p for p in hub_ps.children() if "configurable-http-proxy" in " ".join(p.cmdline())]
        figures["hub + proxy, RSS (MiB)"] = "%.0f + %.0f" % (_memory(hub_ps)[1], _memory(proxy[0])[1] if proxy else 0)
        requests.delete(f"{base}/user/{user}/api/kernels/{kernel_id}",
                        headers={"Authorization": f"token {tokens[user]}"}, timeout=30)

        for user in USERS:
            r = requests.delete(f"{base}/hub/api/users/{user}/server", headers=admin, timeout=60)
            assert r.status_code in (202, 204), r.text
    finally:
        started_pids |= {p.pid for p in hub_ps.children(recursive=True)} if hub_ps.is_running() else set()
        hub.send_signal(signal.SIGTERM)
        try:
            hub.wait(timeout=30)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait(timeout=10)
        log.close()
        left = []
        for pid in started_pids:
            try:
                p = psutil.Process(pid)
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    left.append(p.cmdline())
                    p.kill()
            except psutil.NoSuchProcess:
                pass
        print("\n" + "\n".join(f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}" for k, v in figures.items()))
    assert not left, f"processes left running after the hub stopped (killed now): {left}"
