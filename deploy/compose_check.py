"""deploy/docker-compose.yml, run for real (by deploy/test-compose, which builds the images
and makes sure a Docker engine answers at DOCKER_HOST):

    django container (examples/django, gunicorn, sentry-sdk)
        --HTTP--> proxy container (deploy/Dockerfile, read-only, user 65532)
        --HTTPS, test CA--> Bugsink on 127.0.0.1 (tests/bugsink/bugsink_server.py)

The compose file is used as shipped, merged with a generated override with what this machine
needs: host networking (its engine has no bridge; so the app's `ports` go), addresses on
127.0.0.1, the local images and the upstream's CA. The proxy keeps its default zstd, which
Bugsink refuses with 400: each run of the proxy must switch to gzip by itself, once. The test:

1. brings the stack up; the proxy's health check (the image's own) must pass, and the app
   must answer;
2. creates the demo companies in the app container (its saves write the consent document
   into the shared volume and call the proxy's refresh);
3. drives errors for Acme (telemetry + IDs), Globex (telemetry only), Initech (nothing) and an
   anonymous user, and reads them back from Bugsink: stack traces there, IDs for Acme only,
   nothing of Initech or the anonymous user;
4. stops Bugsink, makes one more Acme error, stops and removes the stack (`docker-compose
   stop`, then `down`: the proxy spools what it could not send into the `spool` volume),
   starts Bugsink again and the stack again: the error arrives, and the spool's log marks it
   sent (no data lost);
5. checks no planted value is in Bugsink (API and files), the spool files or the proxy's logs.
"""
import json
import os
import secrets as pysecrets
import socket
import subprocess
import sys
import time
import uuid
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
for sub in ("tests/sdk", "tests/django_e2e", "tests/bugsink"):
    sys.path.insert(0, str(ROOT / sub))

from bugsink_server import Bugsink  # noqa: E402
from capture_fixtures import new_session, sc_chat, sc_ok, sc_payment, sc_search  # noqa: E402
from platform_stack import clean_env, make_pki, wait_until  # noqa: E402
from test_platform import (  # noqa: E402
    ACME,
    EXPECTED_EXCEPTION,
    GLOBEX,
    INITECH,
    USERS,
    assert_ids,
    assert_no_ids,
    assert_useful_error,
    find_leaks,
    trace_of,
    user_session,
)

PROJECT = "sspcompose"
STATE = Path(os.environ.get("COMPOSE_TEST_DIR", ROOT / "target" / "compose-test"))
PROXY_IMAGE = os.environ.get("PROXY_IMAGE", "sentry-scrub-proxy:latest")
DJANGO_IMAGE = os.environ.get("DJANGO_IMAGE", "sentry-scrub-proxy-example-django:latest")
RELEASE = "example-platform@1.4.2"
TIMEOUT = 90.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(*args, check=True, timeout=300):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


class Compose:
    def __init__(self, work, env, override):
        self.work, self.env = work, env
        self.files = ["-f", str(ROOT / "deploy" / "docker-compose.yml"), "-f", str(override)]
        self.proxy_logs = []  # the proxy's logs of each run, kept before its container goes

    def __call__(self, *args, check=True, timeout=300):
        full_env = dict(os.environ, **self.env)
        r = subprocess.run(["docker-compose", "-p", PROJECT, *self.files, *args], capture_output=True,
                           text=True, env=full_env, cwd=ROOT / "deploy", timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r

    def container(self, service):
        cid = self("ps", "-q", service).stdout.strip()
        assert cid, f"no {service} container"
        return cid

    def health(self, service):
        out = run("docker", "inspect", "--format", "{{json .State.Health}}", self.container(service)).stdout
        return json.loads(out) or {}

    def keep_proxy_logs(self):
        self.proxy_logs.append(self("logs", "--no-color", "proxy").stdout)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    work = tmp_path_factory.mktemp("compose")
    pki = make_pki(work)
    bugsink = Bugsink(work / "bugsink", pki["ca"], pki["cert"], pki["key"], clean_env()).start()
    project = bugsink.create_project("platform-support", "django-platform")
    dsn = project["dsn"]
    key, project_id = dsn.split("://", 1)[1].split("@", 1)[0], dsn.rsplit("/", 1)[1]
    proxy_port, admin_port, app_port = free_port(), free_port(), free_port()
    token = pysecrets.token_hex(16)
    override = work / "compose.override.yml"
    override.write_text(yaml.safe_dump({"services": {
        "proxy": {
            "image": PROXY_IMAGE,
            "network_mode": "host",
            "environment": {
                "SENTRY_PROXY_LISTEN": f"127.0.0.1:{proxy_port}",
                "SENTRY_PROXY_ADMIN_LISTEN": f"127.0.0.1:{admin_port}",
                "SENTRY_PROXY_UPSTREAM_CA": "/run/upstream-ca.pem",
                "SENTRY_PROXY_RETRY_BACKOFF_MAX": "2s",
            },
            "volumes": [f"{pki['ca']}:/run/upstream-ca.pem:ro"],
        },
        "django": {
            "image": DJANGO_IMAGE,
            "network_mode": "host",
            "environment": {
                "PROXY_ADMIN_URL": f"http://127.0.0.1:{admin_port}",
                "SENTRY_RELEASE": RELEASE,
                "SENTRY_ENVIRONMENT": "production",
                "SENTRY_TRACES_SAMPLE_RATE": "1.0",
            },
            # The image's command, bound to loopback (host networking).
            "command": ["sh", "-c", "python manage.py migrate --noinput && python manage.py export_consent "
                        f"--no-notify && exec gunicorn --bind 127.0.0.1:{app_port} --workers 2 demo.wsgi"],
        },
    }}))
    compose = Compose(work, {
        "SENTRY_UPSTREAM_DSN": dsn,
        # The local upstream stands in for an EU ingest (the EU residency guard).
        "SENTRY_EU_UPSTREAM_HOSTS": "127.0.0.1",
        "APP_SENTRY_DSN": f"http://{key}@127.0.0.1:{proxy_port}/{project_id}",
        "SENTRY_PROXY_ADMIN_TOKEN": token,
    }, override)
    # Host networking takes no port bindings, and an override cannot remove a key: merge the
    # two files (`config`), drop the app's `ports`, and run that.
    merged = yaml.safe_load(compose("config").stdout)
    del merged["services"]["django"]["ports"]
    (work / "compose.yml").write_text(yaml.safe_dump(merged))
    compose.files = ["-f", str(work / "compose.yml")]
    compose("down", "-v", check=False)  # what a previous, interrupted run left
    s = SimpleNamespace(work=work, bugsink=bugsink, project=project, compose=compose,
                        admin=f"http://127.0.0.1:{admin_port}", base=f"http://127.0.0.1:{app_port}")
    s.http = requests.Session()
    s.http.trust_env = False
    try:
        yield s
    finally:
        try:
            compose.keep_proxy_logs()
        except Exception:  # noqa: BLE001
            pass
        log = "\n".join(compose.proxy_logs)
        (STATE / "last-proxy.log").write_text(log)
        if os.environ.get("KEEP_STACK") != "1":
            compose("down", "-v", check=False)
        bugsink.stop()


def metric(s, sample):
    text = s.http.get(s.admin + "/metrics", timeout=10).text
    for line in text.splitlines():
        name, _, val = line.rpartition(" ")
        if name == sample:
            return int(float(val))
    return 0


def wait_up(s):
    """The proxy's health check (the image's HEALTHCHECK, as compose runs it) passes and the
    app answers."""
    def healthy():
        state = s.compose.health("proxy")
        if state.get("Status") == "unhealthy":
            raise AssertionError(f"the proxy's health check failed: {state}")
        return state.get("Status") == "healthy"

    wait_until(healthy, TIMEOUT, "the proxy container's health check", interval=0.5)

    def app_up():
        try:
            return s.http.get(s.base + "/api/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_until(app_up, TIMEOUT, "the Django container", interval=0.5)


def label(session):
    trace_id = uuid.uuid4().hex
    session.headers["sentry-trace"] = f"{trace_id}-{uuid.uuid4().hex[:16]}-1"
    return trace_id


def stored(s):
    """{trace id: [(issue, event data)]} of everything Bugsink stored for the project."""
    out = {}
    for issue in s.bugsink.issues(s.project["id"]):
        for event in s.bugsink.events(issue["id"]):
            out.setdefault(trace_of(event["data"]), []).append((issue, event["data"]))
    return out


def wait_stored(s, traces, what):
    def found():
        got = stored(s)
        return got if all(any(d.get("exception") for _i, d in got.get(t, [])) for t in traces) else None

    return wait_until(found, TIMEOUT, what, interval=1.0)


def volume_dir(name):
    return Path(run("docker", "volume", "inspect", "--format", "{{.Mountpoint}}", f"{PROJECT}_{name}").stdout.strip())


def live_spooled(spool):
    """How many envelopes the proxy's spool volume still holds to send. The spool is the
    write-ahead log of proxy/src/egress/spool/wal/ (`wal-<n>.log` segments of records `len u32 LE |
    crc32 u32 LE | kind u8 | id u64 LE | job`, kind 1 a put, 2 its done; a torn or corrupt
    record ends a segment): the puts without a done, replayed in order. Segments stay on disk
    when drained, so counting files says nothing. Any other file (the `overflow` spool mode
    writes one per envelope) counts as one envelope."""
    live, other = set(), 0
    for path in sorted(p for p in spool.rglob("*") if p.is_file()):
        if not (path.name.startswith("wal-") and path.name.endswith(".log")):
            other += 1
            continue
        data, at = path.read_bytes(), 0
        while at + 8 <= len(data):
            size = int.from_bytes(data[at:at + 4], "little")
            body = data[at + 8:at + 8 + size]
            if len(body) != size or size < 9 or zlib.crc32(body) != int.from_bytes(data[at + 4:at + 8], "little") \
                    or body[0] not in (1, 2):
                break
            record_id = int.from_bytes(body[1:9], "little")
            if body[0] == 1:
                live.add(record_id)
            else:
                live.discard(record_id)
            at += 8 + size
    return len(live) + other


def test_the_compose_stack_sends_useful_scrubbed_errors_to_bugsink_and_loses_none(env):
    s = env
    s.compose("up", "-d", "--no-build")
    wait_up(s)
    user = run("docker", "inspect", "--format", "{{.Config.User}}", s.compose.container("proxy")).stdout.strip()
    assert user == "65532:65532", user

    # Demo companies; the app's saves write the consent document and call the proxy.
    s.compose("exec", "-T", "django", "python", "manage.py", "create_demo_data", "--documents", "10")
    wait_until(lambda: metric(s, "scrubproxy_telemetry_enabled") == 1, TIMEOUT,
               "the proxy to load the consent the app wrote into the shared volume", interval=0.5)
    db = s.compose("exec", "-T", "django", "python", "-c",
                   "import os,json,sqlite3; c=sqlite3.connect(os.environ['DJANGO_DB_PATH']); "
                   "print(json.dumps({'companies': dict(c.execute('SELECT name, id FROM authentication_company').fetchall()), "
                   "'users': dict(c.execute('SELECT username, id FROM authentication_user').fetchall())}))").stdout
    ids = json.loads(db)

    ledger = []
    for company, scenarios in {ACME: [sc_search, sc_chat, sc_payment, sc_ok], GLOBEX: [sc_search],
                               INITECH: [sc_search, sc_chat]}.items():
        session = user_session(s, company)
        for scenario in scenarios:
            ledger.append((company, scenario.__name__[3:], label(session)))
            scenario(session, s.base)
    anonymous = new_session()
    anonymous.trust_env = False
    ledger.append(("anonymous", "search", label(anonymous)))
    sc_search(anonymous, s.base)

    expected = {t: (c, sc) for c, sc, t in ledger if c in (ACME, GLOBEX) and sc in EXPECTED_EXCEPTION}
    got = wait_stored(s, expected, "Bugsink to store every consented error")
    for trace_id, (company, scenario) in expected.items():
        _issue, data = next((i, d) for i, d in got[trace_id] if d.get("exception"))
        assert_useful_error(data, scenario)
        if company == ACME:
            assert_ids(data, ids["companies"][ACME], ids["users"][USERS[ACME]])
        else:
            assert_no_ids(data)
    # Initech and the anonymous user: dropped at the proxy, counted there, absent in Bugsink.
    wait_until(lambda: metric(s, 'scrubproxy_items_dropped_total{type="event",reason="company_not_consented"}') >= 2,
               TIMEOUT, "the proxy to drop Initech's errors")
    wait_until(lambda: metric(s, "scrubproxy_queue_depth") == 0, TIMEOUT, "the proxy's queue to drain")
    assert metric(s, 'scrubproxy_items_dropped_total{type="event",reason="upstream_rejected"}') == 0
    got = stored(s)
    for company, scenario, trace_id in ledger:
        if company in (INITECH, "anonymous"):
            assert trace_id not in got, f"{company}/{scenario} reached Bugsink"

    # No data lost across `down`: the upstream goes away, one more error is queued and retried,
    # the stack stops (the proxy spools it into the volume) and is removed; both come back.
    s.bugsink.stop()
    with pytest.raises(requests.ConnectionError):
        s.bugsink.http.get(s.bugsink.base + "/health/ready", timeout=5)
    acme = user_session(s, ACME)
    late = label(acme)
    sc_payment(acme, s.base)
    try:
        wait_until(lambda: metric(s, 'scrubproxy_upstream_errors_total{kind="network"}') >= 1, TIMEOUT,
                   "the proxy to try the stopped upstream")
    except AssertionError:
        print(s.http.get(s.admin + "/metrics", timeout=10).text)
        raise
    s.compose("stop")
    s.compose.keep_proxy_logs()
    s.compose("down")
    spooled = live_spooled(volume_dir("spool"))
    assert spooled >= 1, "docker-compose stop left nothing to send in the spool volume: the queued error is lost"
    spool_leaks = []
    for p in (p for p in volume_dir("spool").rglob("*") if p.is_file()):
        spool_leaks += find_leaks(p.read_bytes(), f"spool file {p.name}")
    assert not spool_leaks, spool_leaks

    s.bugsink.restart()
    s.compose("up", "-d", "--no-build")
    wait_up(s)
    wait_stored(s, [late], "the spooled error to reach Bugsink after the stack came back")
    wait_until(lambda: live_spooled(volume_dir("spool")) == 0, TIMEOUT,
               "the proxy to mark its spool sent (a done record for every put)", interval=0.5)

    # No planted value in anything Bugsink answered or wrote, nor in the proxy's logs.
    s.compose.keep_proxy_logs()
    leaks = []
    for issue in s.bugsink.issues(s.project["id"]):
        leaks += find_leaks(repr(issue).encode(), f"Bugsink issue {issue['friendly_id']}")
        for event in s.bugsink.events(issue["id"]):
            leaks += find_leaks(repr(event).encode(), f"Bugsink event {event['id']}")
    for path in s.bugsink.stored_files():
        leaks += find_leaks(path.read_bytes(), f"Bugsink file {path.relative_to(s.bugsink.dir)}")
    for i, log in enumerate(s.compose.proxy_logs):
        assert "listening for SDKs" in log, log[-2000:]
        # Bugsink answers 400 to zstd: both runs sent, and each switched to gzip once.
        assert log.count("sending gzip from now on") == 1, log[-2000:]
        leaks += find_leaks(log.encode(), f"proxy container log, run {i + 1}")
    assert not leaks, "canaries reached Bugsink or the proxy's logs:\n  " + "\n  ".join(leaks[:40])
    n = sum(len(v) for v in stored(s).values())
    print(f"\ncompose test: Bugsink stored {n} events; {len(ledger) + 1} requests; "
          f"{spooled} spooled envelope(s) survived down/up and were sent; no canary")

