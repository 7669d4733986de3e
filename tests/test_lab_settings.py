"""JupyterLab opens without the "get notified about official Jupyter news?" pop-up (marker ``browser``).

``jupyter-settings/`` (installed by requirements.txt) sets JupyterLab's default ``fetchNews`` to
"false". In headless Chromium the pop-up is absent with the course's defaults, and present when a
user setting puts ``fetchNews`` back to JupyterLab's own default "none" (so the check can fail).
"""

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _popups(tmp_path, user_setting=None):
    requests = pytest.importorskip("requests")
    sync_api = pytest.importorskip("playwright.sync_api")
    tmp_path.mkdir(parents=True, exist_ok=True)
    settings = tmp_path / "settings"
    if user_setting is not None:
        folder = settings / "@jupyterlab" / "apputils-extension"
        folder.mkdir(parents=True)
        (folder / "notification.jupyterlab-settings").write_text(user_setting, encoding="utf-8")
    settings.mkdir(exist_ok=True)
    token, port = secrets.token_hex(16), _free_port()
    lab = subprocess.Popen([str(BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                            f"--ServerApp.token={token}", f"--ServerApp.root_dir={tmp_path}",
                            f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={settings}",
                            *(["--allow-root"] if os.geteuid() == 0 else [])],
                           env=dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "cfg")),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
            ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=ARGS)
            page = ctx.pages[0]
            page.goto(f"http://127.0.0.1:{port}/lab?token={token}")
            page.wait_for_selector(".jp-LauncherCard", timeout=90_000)
            time.sleep(5)                        # the notification is emitted after start-up
            count = page.get_by_text("official Jupyter news").count()
            ctx.close()
        return count
    finally:
        lab.terminate()
        lab.wait(timeout=30)


def test_no_news_popup_with_the_course_settings(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    installed = Path(sys.prefix) / "etc" / "jupyter" / "labconfig" / "default_setting_overrides.json"
    if not installed.exists():
        pytest.fail("jupyter-settings/ is not installed in this environment (pip install -r requirements.txt)")
    assert _popups(tmp_path / "course") == 0
    assert _popups(tmp_path / "lab-default", '{"fetchNews": "none"}') == 1


