"""A newcomer's first command, replayed: requirements.txt alone in a fresh virtualenv.

The suite itself runs with the dev requirements installed, so it cannot see a runtime module
that only requirements-dev.txt brings. This module builds a virtualenv holding nothing but
requirements.txt (pip's own cache makes a rebuild cost seconds on a warm machine, and the
environment is reused while requirements.txt and the interpreter stay the same), imports every
runtime module from it, and starts `app.py` from it in demo mode.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "requirements.txt"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "meshdash-firstrun"
# Top-level entries that are not shipped code the running app imports.
NOT_RUNTIME = {"tests", "bench", "docs", "deploy", "var", ".ci", ".git", ".venv"}
MISSING = re.compile(r"No module named '([^']+)'")


class FirstRunError(AssertionError):
    """The first command would fail for a new user; the message says why."""


@dataclass(frozen=True)
class RuntimeEnv:
    python: Path


def _key() -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:16]


def runtime_env() -> RuntimeEnv:
    """A virtualenv with requirements.txt only, built fresh whenever that file changes."""
    home = CACHE / _key()
    python = home / "bin" / "python"
    done = home / ".installed"
    if done.exists():
        return RuntimeEnv(python)
    shutil.rmtree(home, ignore_errors=True)
    home.parent.mkdir(parents=True, exist_ok=True)
    _prune(keep=home)
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
    install = ["install", "--quiet", "--disable-pip-version-check", "-r", str(REQUIREMENTS)]
    pip = subprocess.run(
        [str(python), "-m", "pip", *install],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if pip.returncode != 0:
        shutil.rmtree(home, ignore_errors=True)
        raise FirstRunError(f"pip install -r requirements.txt failed:\n{pip.stderr[-3000:]}")
    done.write_text(REQUIREMENTS.read_text())
    return RuntimeEnv(python)


def _prune(keep: Path, max_age_s: float = 86400) -> None:
    """Drop environments of older requirements files, left unused for a day."""
    for old in CACHE.iterdir():
        if old != keep and old.is_dir() and time.time() - old.stat().st_mtime > max_age_s:
            shutil.rmtree(old, ignore_errors=True)


def runtime_modules(root: Path = REPO) -> list[str]:
    """Every module the app may import at run time: the top-level scripts and packages."""
    names: list[str] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in NOT_RUNTIME or rel.parts[0].startswith("."):
            continue
        if len(rel.parts) > 1 and not (path.parent / "__init__.py").exists():
            continue
        if "." in path.stem:  # gunicorn.conf.py is a config file, not a module
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts:
            names.append(".".join(parts))
    return names


def missing_modules(text: str) -> list[str]:
    return sorted(set(MISSING.findall(text)))


def check_imports(env: RuntimeEnv) -> None:
    """Import every runtime module in the runtime env; name each module that is not there."""
    script = (
        "import importlib, sys, traceback\n"
        "bad = []\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        bad.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(bad))\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run(
        [str(env.python), "-c", script, *runtime_modules()],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=_clean_env(),
    )
    if done.returncode != 0:
        missing = missing_modules(done.stdout + done.stderr)
        head = (
            f"requirements.txt lacks the runtime module(s) {', '.join(missing)}: "
            if missing
            else "runtime modules fail to import from requirements.txt alone: "
        )
        raise FirstRunError(head + "\n" + (done.stdout + done.stderr)[-3000:])


def _clean_env() -> dict[str, str]:
    """The caller's environment without meshdash settings: no backend configured is demo mode."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHDASH_")}
    env.pop("PYTHONPATH", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


@dataclass
class RunningApp:
    url: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def alive(self) -> None:
        """Fail, naming the missing module, if the app has exited."""
        code = self.process.poll()
        if code is not None:
            out = self.output()
            missing = missing_modules(out)
            why = f"requirements.txt lacks {', '.join(missing)}; " if missing else ""
            raise FirstRunError(f"app.py exited with {code}: {why}its output:\n{out[-3000:]}")


def start_demo(env: RuntimeEnv, port: int, workdir: Path, timeout_s: float = 60) -> RunningApp:
    """`python app.py` from the runtime env, as `make run` does, in demo mode on `port`."""
    log = workdir / "app.log"
    run_env = _clean_env() | {"MESHDASH_AUDIT_LOG": str(workdir / "audit.jsonl")}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(env.python), "app.py", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=run_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    app = RunningApp(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + timeout_s
    while True:
        app.alive()
        try:
            if requests.get(app.url + "/healthz", timeout=2).status_code == 200:
                return app
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            app.stop()
            raise FirstRunError(f"app.py did not answer /healthz in {timeout_s:.0f} s")
        time.sleep(0.2)


def page_paths(app: RunningApp) -> list[str]:
    """Every page of the app, with the parameters a user's first clicks would give them."""
    found = requests.get(
        app.url + "/api/traces",
        params={"namespace": "bookinfo", "service": "productpage", "limit": 1},
        timeout=30,
    )
    found.raise_for_status()
    traces = found.json()["traces"]
    if not traces:
        raise FirstRunError("the demo's trace search found no trace to open")
    trace = traces[0]["trace_id"]
    return [
        "/",
        "/overview",
        "/list?namespace=bookinfo&kind=workload",
        "/service?namespace=bookinfo&service=reviews",
        "/workload?namespace=bookinfo&workload=reviews-v1",
        "/traces",
        "/traces?namespace=bookinfo&service=productpage",
        f"/traces/view?trace={trace}",
        "/releases",
        "/releases?namespace=bookinfo&service=reviews",
        "/review",
        "/review?namespace=bookinfo&service=reviews&baseline=v1&canary=v2",
    ]


API_PATHS = (
    "/api/graph?namespace=bookinfo",
    "/api/namespaces",
    "/api/list?kind=service&namespace=bookinfo",
)
