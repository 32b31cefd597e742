"""Trials as a short test: the Django app and the threaded task runner of issue 14 (on
.venv) and the FastAPI and aiohttp apps of issue 17 (on .venv-trials) run on the real
sentry-sdk, and every body they wrote goes through the real binary's `scrub`. No planted
name, slug, title, host, token or source literal may leave; the technical facts (route
template, SQL shape, ops, task names, exception types, messages of known formats) must.

The Flask, Celery, sentry-sdk 1.x and @sentry/node runs are recorded in docs/trials.md
(run_trials.py).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PROXY_BIN = Path(os.environ.get("PROXY_BIN", REPO / "target" / "debug" / "sentry-scrub-proxy"))
sys.path.insert(0, str(HERE))
from run_trials import CANARIES  # noqa: E402  (every app's planted words)

TRIALS_PYTHON = REPO / ".venv-trials" / "bin" / "python"
# Each app's own canaries: the ones it must have planted for the run to count.
PLANTED = {
    "django_hr.py": ["zephyrine", "quillfeather", "memoirs"],
    "tasks_hr.py": ["zephyrine", "quillfeather", "memoirs"],
    "fastapi_docs.py": ["ottoline", "brackenbury", "marshwillow", "canary7e1a9d44", "wendeline"],
    "aiohttp_letters.py": ["ottoline", "brackenbury", "marshwillow", "goldthwaite", "canary51f0c2b8"],
}


def scrub_all(out_dir, tmp_path, planted):
    consent = tmp_path / "consent.json"
    consent.write_text(json.dumps({"telemetry_enabled": True, "companies": {"7": {"telemetry_enabled": True, "telemetry_ids_allowed": True}}}))
    bodies = sorted(out_dir.iterdir())
    assert bodies, "the app sent nothing"
    sent = " ".join(b.read_text().lower() for b in bodies)
    missing = [c for c in planted if c not in sent]
    assert not missing, f"not planted: {missing}"
    outputs = []
    for body in bodies:
        r = subprocess.run(
            [str(PROXY_BIN), "scrub", str(body), "--consent-file", str(consent), "--unattributed", "forward"],
            capture_output=True, check=True,
        )
        outputs.append(r.stdout.decode())
    return "\n".join(outputs)


@pytest.mark.parametrize("pii", ["0", "1"])
@pytest.mark.parametrize("app", ["django_hr.py", "tasks_hr.py", "fastapi_docs.py", "aiohttp_letters.py"])
def test_planted_names_titles_and_slugs_never_leave(app, pii, tmp_path):
    if not PROXY_BIN.is_file():
        pytest.fail(f"no proxy binary at {PROXY_BIN}: run `cargo build -p sentry-scrub-proxy` or set PROXY_BIN")
    python = sys.executable if app in ("django_hr.py", "tasks_hr.py") else str(TRIALS_PYTHON)
    out_dir = tmp_path / "out"
    env = dict(os.environ, TRIAL_OUT=str(out_dir), TRIAL_PII=pii)
    subprocess.run([python, str(HERE / app)], env=env, cwd=HERE, check=True, capture_output=True, timeout=120)
    out = scrub_all(out_dir, tmp_path, PLANTED[app])
    for c in CANARIES:
        assert c not in out.lower(), f"{c} left"
    assert '"context_line"' not in out, "source lines are off by default"
    for fact in FACTS[app]:
        assert fact in out, fact


FACTS = {
    "django_hr.py": [
        '"transaction":"/people/{slug}/cv/"',
        '"url":"http://127.0.0.1:8000/people/{slug}/cv/"',
        '"description":"SELECT %s AS title"',
        '"transaction":"<custom transaction>"',
        '"description":"<custom span>"',
        '"type":"LookupError"',
        '"function":"person_cv"',
    ],
    "tasks_hr.py": [
        '"transaction":"<task transaction>"',
        '"transaction":"hr.jobs.nightly_export"',
        '"description":"hr.jobs.reindex"',
        '"description":"GET http://10.0.3.7:9200/people/*/_doc"',
    ],
    # Messages of known formats stay readable, their variable parts judged.
    "fastapi_docs.py": [
        '"value":"HTTPConnection(host=\'[host]\', port=8089): Failed to resolve \'[host]\' ([Errno -2] Name or service not known)"',
        '"value":"UNIQUE constraint failed: people.email"',
        '"value":"\'DATABASE_URL\'"',
        '"value":"division by zero"',
        '"value":"\'NoneType\' object has no attribute \'split\'"',
        '"release":"[release]"',
    ],
    "aiohttp_letters.py": [
        '"value":"Error 111 connecting to 127.0.0.1:6399. Connect call failed (\'127.0.0.1\', 6399)."',
        '"value":"no such column: [identifier]"',
        '"value":"division by zero"',
        '"type":"ImportError"',
    ],
}
