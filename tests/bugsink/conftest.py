"""Fixture ``bugsink_stack``: the Django example and the real proxy binary, sending to a real
Bugsink over HTTPS with a test CA (see bugsink_server.py):

    gunicorn + examples/django + sentry-sdk --HTTP--> sentry-scrub-proxy --HTTPS--> Bugsink

The Django side is the django_e2e platform (tests/django_e2e/platform_stack.py) with another
upstream: the proxy's ``--upstream-dsn`` is the DSN Bugsink gave its new project, and the app's
``SENTRY_DSN`` is that DSN with only the host swapped, as an operator would set it.
"""
import http.server
import sys
import threading
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "sdk"))
sys.path.insert(0, str(HERE.parents[1] / "tests" / "django_e2e"))
sys.path.insert(0, str(HERE))

from bugsink_server import Bugsink  # noqa: E402
from platform_stack import (  # noqa: E402
    Stack,
    _manage,
    _SearchBackend,
    _start_app,
    _start_proxy,
    clean_env,
    make_pki,
    stop_process,
)

_CURRENT = {}


def dsn_parts(dsn):
    """(public key, project id) of a DSN ``scheme://KEY@host[:port]/PROJECT``."""
    scheme_rest = dsn.split("://", 1)[1]
    key, host_path = scheme_rest.split("@", 1)
    return key, host_path.rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def bugsink_stack(tmp_path_factory):
    work = tmp_path_factory.mktemp("bugsink")
    s = Stack(work)
    s.bugsink = None
    _CURRENT["stack"] = s
    try:
        pki = make_pki(work)
        s.bugsink = Bugsink(work / "bugsink", pki["ca"], pki["cert"], pki["key"], clean_env()).start()
        s.project = s.bugsink.create_project("platform-support", "django-platform")
        s.upstream_dsn = s.project["dsn"]
        assert s.upstream_dsn.startswith(f"https://") and f"@127.0.0.1:{s.bugsink.port}/" in s.upstream_dsn
        s.public_key, s.project_id = dsn_parts(s.upstream_dsn)
        # Bugsink reads gzip, deflate and br bodies, not zstd (it answers 400). No flag: the
        # proxy's default zstd must switch to gzip by itself (docs/operations.md, Bugsink).
        s.proxy_args = []
        s.backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SearchBackend)
        threading.Thread(target=s.backend.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        _manage(s, "migrate", "-v0")
        _manage(s, "create_demo_data", "--documents", "10")
        _start_proxy(s, pki)
        _start_app(s)
        yield s
    finally:
        stop_process(s.app_proc, "gunicorn")
        stop_process(s.proxy_proc, "the proxy")
        if s.backend is not None:
            s.backend.shutdown()
            s.backend.server_close()
        if s.bugsink is not None:
            s.bugsink.stop()
        _CURRENT.pop("stack", None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and "stack" in _CURRENT and Path(str(item.fspath)).parent == HERE:
        s = _CURRENT["stack"]
        try:
            text = s.diagnostics()
        except Exception as exc:  # noqa: BLE001
            text = f"unavailable: {exc!r}"
        if s.bugsink is not None:
            text += "\nBugsink log tail:\n" + s.bugsink.log_tail()
        report.sections.append(("bugsink diagnostics", text))
