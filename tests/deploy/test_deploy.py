"""The deployment files, checked without a Docker engine: the compose file through
`docker-compose config` (Debian's docker-compose needs no engine), the Kubernetes manifests
against the Kubernetes schemas (kubernetes-validate, strict), and the container's processes
run as plain processes with the image's and the compose file's environment."""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(ROOT, "deploy")
PROXY_BIN = os.environ.get("PROXY_BIN", os.path.join(ROOT, "target", "debug", "sentry-scrub-proxy"))
ENV = {
    "SENTRY_UPSTREAM_DSN": "https://0123456789abcdef0123456789abcdef@o1.ingest.de.sentry.io/42",
    "APP_SENTRY_DSN": "http://0123456789abcdef0123456789abcdef@proxy:9000/42",
    "SENTRY_PROXY_ADMIN_TOKEN": "0123456789abcdef0123",
}


def compose(*args, env=None):
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is installed by scripts/test (apt-get install docker-compose)"
    full_env = {k: v for k, v in os.environ.items() if k not in ENV}
    full_env.update(env or {})
    return subprocess.run([exe, "-f", os.path.join(DEPLOY, "docker-compose.yml"), *args],
                          capture_output=True, text=True, env=full_env, cwd=DEPLOY)


def test_compose_file_is_valid_and_wires_the_proxy_beside_the_app():
    r = compose("config", env=ENV)
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load(r.stdout)
    proxy, django = cfg["services"]["proxy"], cfg["services"]["django"]
    assert proxy["read_only"] is True
    assert proxy["user"] == "65532:65532"
    assert proxy["environment"]["SENTRY_PROXY_UPSTREAM_DSN"] == ENV["SENTRY_UPSTREAM_DSN"]
    assert proxy["environment"]["SENTRY_PROXY_CONSENT_FILE"] == "/consent/consent.json"
    assert django["environment"]["SENTRY_DSN"] == ENV["APP_SENTRY_DSN"]
    assert django["environment"]["CONSENT_EXPORT_PATH"] == "/consent/consent.json"
    assert django["environment"]["PROXY_ADMIN_URL"] == "http://proxy:9001"
    # One consent volume: written by the app, read-only for the proxy.
    assert "consent:/consent:ro" in proxy["volumes"]
    assert "consent:/consent:rw" in django["volumes"]
    assert django["depends_on"]["proxy"]["condition"] == "service_healthy"
    assert proxy["healthcheck"]["test"] == ["CMD", "/usr/local/bin/sentry-scrub-proxy", "health", "--live"]


def test_compose_names_a_missing_upstream_dsn():
    r = compose("config", env={k: v for k, v in ENV.items() if k != "SENTRY_UPSTREAM_DSN"})
    assert r.returncode != 0
    assert "set SENTRY_UPSTREAM_DSN" in r.stderr


@pytest.mark.parametrize("name", ["configmap", "secret", "deployment", "service", "service-admin", "hpa"])
def test_kubernetes_manifest_matches_the_schema(name):
    exe = os.path.join(ROOT, ".venv", "bin", "kubernetes-validate")
    path = os.path.join(DEPLOY, "k8s", f"{name}.yaml")
    r = subprocess.run([exe, "--strict", path], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "passed" in r.stdout + r.stderr


def test_deployment_has_probes_limits_and_a_read_only_root():
    with open(os.path.join(DEPLOY, "k8s", "deployment.yaml")) as f:
        dep = yaml.safe_load(f)
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"] == "128Mi"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert dep["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    with open(os.path.join(DEPLOY, "k8s", "hpa.yaml")) as f:
        hpa = yaml.safe_load(f)
    assert hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]


def test_the_admin_port_is_not_in_the_sdk_service():
    """The SDK Service carries the ingest port only; the admin port has a Service of its own
    (issue 27, finding 8), and both select the Deployment's pods."""
    def load(name):
        with open(os.path.join(DEPLOY, "k8s", f"{name}.yaml")) as f:
            return yaml.safe_load(f)

    dep = load("deployment")
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    sdk, admin = load("service"), load("service-admin")
    assert [(p["port"], p["targetPort"]) for p in sdk["spec"]["ports"]] == [(9000, "ingest")]
    assert [(p["port"], p["targetPort"]) for p in admin["spec"]["ports"]] == [(9001, "admin")]
    assert sdk["metadata"]["name"] != admin["metadata"]["name"]
    for svc in (sdk, admin):
        assert svc["spec"]["selector"].items() <= pod_labels.items()


def test_the_sdk_service_keeps_one_app_pod_on_one_replica():
    """sessionAffinity: ClientIP on the SDK port, for at least the trace map's default TTL,
    so that a trace's later envelopes reach the replica that learned its company (issue 22,
    attribution rule c); the admin Service needs none."""
    def load(name):
        with open(os.path.join(DEPLOY, "k8s", f"{name}.yaml")) as f:
            return yaml.safe_load(f)

    sdk, admin = load("service")["spec"], load("service-admin")["spec"]
    assert sdk["sessionAffinity"] == "ClientIP"
    ttl = subprocess.run([PROXY_BIN, "--help"], capture_output=True, text=True).stdout
    default_ttl = re.search(r"--trace-map-ttl <[A-Z_]+>.*?\[default: (\d+)m\]", ttl, re.S)
    assert default_ttl, ttl
    assert sdk["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] >= 60 * int(default_ttl.group(1))
    assert "sessionAffinity" not in admin


def test_the_shipped_placeholder_admin_token_is_refused():
    """secret.yaml's and .env.example's placeholder token stops the proxy with exit 64."""
    with open(os.path.join(DEPLOY, "k8s", "secret.yaml")) as f:
        token = yaml.safe_load(f)["stringData"]["SENTRY_PROXY_ADMIN_TOKEN"]
    with open(os.path.join(DEPLOY, ".env.example")) as f:
        assert f"SENTRY_PROXY_ADMIN_TOKEN={token}\n" in f.read()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_PROXY_")}
    env["SENTRY_PROXY_ADMIN_TOKEN"] = token
    r = subprocess.run([PROXY_BIN, "config", "show"], capture_output=True, text=True, env=env)
    assert r.returncode == 64, r.stdout + r.stderr
    assert "--admin-token: this is a placeholder, not a secret" in r.stderr
    assert token not in r.stdout + r.stderr


def dockerfile():
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        return f.read()


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck():
    text = dockerfile()
    # Compiled in the Rust image by default, or taken prebuilt from the context; the public
    # images are the defaults, the build args only replace them (deploy/test-compose).
    froms = re.findall(r"^FROM (.+)$", text, re.M)
    assert froms == ["${RUST_IMAGE} AS build", "scratch AS prebuilt", "${BINARY} AS binary", "${RUNTIME_IMAGE}"]
    assert dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.M)) == {
        "RUST_IMAGE": "rust:1.95-bookworm",
        "RUNTIME_IMAGE": "gcr.io/distroless/cc-debian12:nonroot",
        "BINARY": "build",
    }
    # The spool directory is the runtime user's, so a new named volume there is writable.
    assert "COPY --from=binary --chown=65532:65532 /src/spool /var/spool/sentry-scrub-proxy" in text
    assert re.search(r"^USER nonroot", text, re.M)
    assert 'CMD ["/usr/local/bin/sentry-scrub-proxy", "health", "--live"]' in text
    assert "--locked" in text


def image_env():
    """The ENV of the Dockerfile's final stage."""
    env = {}
    for m in re.finditer(r"^ENV ((?:.*\\\n)*.*)$", dockerfile(), re.M):
        for k, v in re.findall(r"(\w+)=(\S+)", m.group(1)):
            env[k] = v
    return env


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_the_container_process_runs_with_the_image_and_compose_environment(tmp_path):
    """What the container runs, as a plain process: the image's ENV, the compose file's
    environment (paths moved under a temp dir, addresses on loopback), and the health check
    the image uses."""
    r = compose("config", env=ENV)
    proxy_env = yaml.safe_load(r.stdout)["services"]["proxy"]["environment"]
    env = {"PATH": os.environ.get("PATH", "")}
    env.update(image_env())
    env.update({k: str(v) for k, v in proxy_env.items()})
    consent = tmp_path / "consent.json"
    consent.write_text(json.dumps({"telemetry_enabled": False, "companies": {}}))
    port, admin = free_port(), free_port()
    env.update({
        "SENTRY_PROXY_CONSENT_FILE": str(consent),
        "SENTRY_PROXY_SPOOL_DIR": str(tmp_path / "spool"),
        "SENTRY_PROXY_LISTEN": f"127.0.0.1:{port}",
        "SENTRY_PROXY_ADMIN_LISTEN": f"127.0.0.1:{admin}",
    })
    assert env["SENTRY_PROXY_LOG_FORMAT"] == "json"
    p = subprocess.Popen([PROXY_BIN], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 20
        ok = False
        while time.time() < deadline and not ok:
            ok = subprocess.run([PROXY_BIN, "health", "--live"], env=env).returncode == 0
            if not ok:
                time.sleep(0.1)
        assert ok, "the health check the image uses never passed"
        # Ready: a valid consent document is loaded (telemetry off: nothing will leave).
        assert subprocess.run([PROXY_BIN, "health"], env=env).returncode == 0
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics").read().decode()
        assert "scrubproxy_telemetry_enabled 0\n" in metrics
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    assert p.returncode == 0
    # JSON logs, one object per line, no upstream contacted.
    lines = [json.loads(l) for l in err.decode().splitlines() if l.strip()]
    assert any(l["fields"]["message"] == "listening for SDKs" for l in lines)
    assert out == b""


def test_health_fails_when_nothing_listens():
    env = {"PATH": os.environ.get("PATH", "")}
    r = subprocess.run([PROXY_BIN, "health", "--admin", f"127.0.0.1:{free_port()}"], env=env)
    assert r.returncode == 1


def test_the_image_build_context_holds_the_whole_workspace(tmp_path):
    """The build stage copies only some paths; cargo refuses a workspace with a member
    missing. Rebuild the context from the Dockerfile's COPY lines (minus .dockerignore) and
    let cargo resolve it, locked and offline, as `cargo build --locked` would.

    Offline, cargo only has what this machine's build fetched: the packages of the host's
    platform. `Cargo.lock` also names packages for other platforms (`anstyle-wincon`,
    `windows-sys`) that no Linux build downloads, so the resolution is filtered to the host,
    as the image's own build is; unfiltered it would pass only on a machine whose cargo
    cache happens to hold them (scripts/test runs this suite with a fresh CARGO_HOME)."""
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        lines = f.read().split("\nFROM ")[1].splitlines()  # the build stage only
    copies = [l.split()[1:] for l in lines if l.startswith("COPY ") and "--from" not in l]
    assert copies, "the build stage copies the sources"
    ignored = shutil.ignore_patterns("target", "target-*", "__pycache__")
    for *sources, dest in copies:
        for src in sources:
            path = os.path.join(ROOT, src)
            to = tmp_path / (os.path.basename(src) if dest.endswith("/") else dest)
            if os.path.isdir(path):
                shutil.copytree(path, to, ignore=ignored)
            else:
                shutil.copy(path, to)
    host = re.search(r"^host: (\S+)$", subprocess.run(
        ["rustc", "-vV"], capture_output=True, text=True, check=True).stdout, re.M).group(1)
    r = subprocess.run(["cargo", "metadata", "--locked", "--offline", "--filter-platform", host,
                        "--format-version", "1"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    members = {os.path.relpath(os.path.dirname(p["manifest_path"]), tmp_path)
               for p in json.loads(r.stdout)["packages"] if p["source"] is None}
    assert {"proxy", "crates/envelope", "crates/scrub", "crates/consent"} <= members
