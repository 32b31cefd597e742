"""Fixtures of the Django end-to-end test: ``stack`` (one per module) is the
whole platform, see platform_stack.py. On a failure the report gets a
"django-e2e diagnostics" section (log tails, metrics, captured requests)."""
import http.server
import sys
import threading
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "sdk"))
sys.path.insert(0, str(HERE))

from platform_stack import (  # noqa: E402
    CaptureUpstream,
    Stack,
    _manage,
    _SearchBackend,
    _start_app,
    _start_proxy,
    make_pki,
    stop_process,
)

_CURRENT = {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    work = tmp_path_factory.mktemp("platform")
    s = Stack(work)
    _CURRENT["stack"] = s
    try:
        pki = make_pki(work)
        s.upstream = CaptureUpstream(pki["cert"], pki["key"]).start()
        s.backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SearchBackend)
        threading.Thread(target=s.backend.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

        # The app's database is the source of truth; create_demo_data's saves
        # export the consent document (the proxy is not running yet, so the
        # refresh call is simply skipped: no PROXY_ADMIN_URL here).
        _manage(s, "migrate", "-v0")
        _manage(s, "create_demo_data", "--documents", "30")
        assert s.consent_path.is_file(), "create_demo_data did not export the consent document"
        _start_proxy(s, pki)
        _start_app(s)
        yield s
    finally:
        stop_process(s.app_proc, "gunicorn")
        if s.upstream is not None:
            s.dump_captured(work / "upstream-captured")
        stop_process(s.proxy_proc, "the proxy")
        if s.backend is not None:
            s.backend.shutdown()
            s.backend.server_close()
        if s.upstream is not None:
            s.upstream.stop()
        _CURRENT.pop("stack", None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and "stack" in _CURRENT and Path(str(item.fspath)).parent == HERE:
        try:
            report.sections.append(("django-e2e diagnostics", _CURRENT["stack"].diagnostics()))
        except Exception as exc:  # noqa: BLE001
            report.sections.append(("django-e2e diagnostics", f"unavailable: {exc!r}"))
