"""A real Bugsink (the self-hosted, Sentry-compatible error tracker published on PyPI) on
127.0.0.1 over HTTPS, set up the way its documentation sets up a local install:

    bugsink-create-conf --template=local   (then: HTTPS base URL, paths in our directory,
                                            no phone-home)
    bugsink-manage migrate; bugsink-manage migrate snappea --database=snappea
    bugsink-manage create_auth_token
    gunicorn bugsink.wsgi  (TLS with the test CA's server certificate)

A team and a project are created through its REST API (`/api/canonical/0/`), which gives the
project's DSN; what Bugsink stored is read back through the same API. Bugsink runs from its own
virtualenv (`.venv-bugsink`, scripts/requirements-bugsink.txt: its pins differ from the app's).
"""
import os
import socket
import subprocess
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("BUGSINK_VENV", REPO / ".venv-bugsink"))
START_TIMEOUT = 60.0


class Bugsink:
    """``start()`` / ``stop()``; everything it writes stays under ``directory``."""

    def __init__(self, directory, ca, cert, key, env):
        self.dir = Path(directory)
        self.ca, self.cert, self.key = str(ca), str(cert), str(key)
        self.env = dict(env, PYTHONPATH=str(self.dir), DJANGO_SETTINGS_MODULE="bugsink_conf")
        self.log = self.dir / "bugsink.log"
        self.proc = None
        self.token = None
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = self.ca  # the test CA, nothing else: a real TLS check
        self._sock = self._listen(0)
        self.port = self._sock.getsockname()[1]
        self.base = f"https://127.0.0.1:{self.port}"

    # ---- process
    @staticmethod
    def _listen(port):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
        return sock

    def _bin(self, name):
        path = VENV / "bin" / name
        if not path.is_file():
            raise AssertionError(f"no {path}: run scripts/setup-python.sh (it creates {VENV})")
        return str(path)

    def manage(self, *args):
        r = subprocess.run([self._bin("bugsink-manage"), *args], cwd=self.dir, env=self.env,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError(f"bugsink-manage {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "bugsink_conf.py"
        subprocess.run([self._bin("bugsink-create-conf"), "--template=local", "--host", "127.0.0.1",
                        "--port", str(self.port), "--output-file", str(conf)],
                       cwd=self.dir, env=self.env, check=True, capture_output=True)
        with open(conf, "a") as f:
            f.write(f'''
# --- added by tests/bugsink: HTTPS, every file in this directory, no outbound traffic
BUGSINK["BASE_URL"] = "{self.base}"
BUGSINK["INGEST_STORE_BASE_DIR"] = "{self.dir / 'ingestion'}"
BUGSINK["PHONEHOME"] = False
DATABASES["default"]["NAME"] = "{self.dir / 'db.sqlite3'}"
DATABASES["snappea"]["NAME"] = "{self.dir / 'snappea.sqlite3'}"
''')
        self.manage("migrate", "--noinput", "-v0")
        self.manage("migrate", "snappea", "--database=snappea", "--noinput", "-v0")
        self.token = self.manage("create_auth_token").strip()
        self.http.headers["Authorization"] = f"Bearer {self.token}"
        return self._serve()

    def restart(self):
        """Serve again on the same port, with what it stored (after ``stop()``)."""
        self._sock = self._listen(self.port)
        return self._serve()

    def _serve(self):
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [self._bin("gunicorn"), "--bind", f"fd://{self._sock.fileno()}",
             "--certfile", self.cert, "--keyfile", self.key,
             "--workers", "1", "--worker-class", "gthread", "--threads", "4",
             "--graceful-timeout", "3", "--no-control-socket", "--error-logfile", "-", "bugsink.wsgi"],
            cwd=self.dir, env=self.env, stdout=log, stderr=subprocess.STDOUT, pass_fds=(self._sock.fileno(),),
        )
        log.close()
        self._sock.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"Bugsink's gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self.http.get(self.base + "/health/ready", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"Bugsink not ready after {START_TIMEOUT}s:\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # by PID
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # ---- REST API
    def api(self, method, path, **kwargs):
        r = self.http.request(method, f"{self.base}/api/canonical/0/{path}", timeout=30, **kwargs)
        assert r.status_code in (200, 201), f"{method} {path}: {r.status_code} {r.text[:500]}"
        return r.json()

    def paged(self, path, **params):
        """Every result of a paginated list."""
        out, url = [], f"{self.base}/api/canonical/0/{path}"
        while url:
            r = self.http.get(url, params=params, timeout=30)
            assert r.status_code == 200, f"GET {url}: {r.status_code} {r.text[:500]}"
            page = r.json()
            out += page["results"]
            url, params = page.get("next"), None
        return out

    def create_project(self, team, name):
        """A team and a project in it; return the project (with its ``dsn``)."""
        team_id = self.api("POST", "teams/", json={"name": team})["id"]
        project_id = self.api("POST", "projects/", json={"name": name, "team": team_id})["id"]
        return self.api("GET", f"projects/{project_id}/")

    def issues(self, project):
        return self.paged("issues/", project=project)

    def events(self, issue):
        """The full stored events (``data`` is the event as Bugsink keeps it) of one issue."""
        return [self.api("GET", f"events/{e['id']}/") for e in self.paged("events/", issue=issue)]

    def stored_files(self):
        """Every file Bugsink wrote (databases, ingest store, log): for the leak scan."""
        return sorted(p for p in self.dir.rglob("*") if p.is_file() and p.name != "bugsink_conf.py")

    def stored_contents(self, tries=5):
        """``(path, bytes)`` of every file of :meth:`stored_files`, read as one set. SQLite's
        ``-wal`` and ``-shm`` files come and go while Bugsink runs (a checkpoint moves the
        ``-wal`` pages into the database and removes it): a file gone between the listing and
        the read means the set may miss pages, so the whole set is read again."""
        for _ in range(tries):
            try:
                return [(p, p.read_bytes()) for p in self.stored_files()]
            except FileNotFoundError:
                time.sleep(0.2)
        raise AssertionError(f"Bugsink's files kept changing during {tries} reads")
