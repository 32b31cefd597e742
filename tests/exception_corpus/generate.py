#!/usr/bin/env python3
"""Build corpus.jsonl: exception messages raised by real libraries, as sentry-sdk sends them.

Every case below makes a real library fail for real (a real socket, a real database, a real
template engine); nothing types a message by hand, except the few cases marked "app-raised",
which copy what application code commonly does. Each exception is converted by sentry-sdk's own
`event_from_exception`, so `type`, `module`, `value` and the chain of causes are exactly what the
SDK puts in `exception.values`. One JSON line is written per value.

Run it with the venv described in README.md:

    /tmp/corpus-venv/bin/python tests/exception_corpus/generate.py

It starts (and stops) its own servers on 127.0.0.1: a PostgreSQL cluster and a redis-server
when their Debian binaries are installed, plus small Python servers (HTTP, a stalling socket,
TLS, SMTP, and fake OpenAI/S3/Elasticsearch endpoints that answer in the vendor's error shape).
"""
import argparse
import asyncio
import importlib.metadata
import json
import os
import pickle
import shutil
import sys
import traceback
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import sentry_sdk  # noqa: E402
from sentry_sdk.utils import event_from_exception  # noqa: E402

import corpus_env as env  # noqa: E402
from corpus_env import CANARY_WORDS  # noqa: E402

CASE_MODULES = [
    "cases_stdlib",
    "cases_django",
    "cases_sql",
    "cases_postgres",
    "cases_redis",
    "cases_http",
    "cases_misc",
]

_VERSIONS = {}


def lib_label(dist):
    if dist not in _VERSIONS:
        if dist == "python":
            _VERSIONS[dist] = "python %d.%d.%d" % sys.version_info[:3]
        else:
            _VERSIONS[dist] = "%s %s" % (dist, importlib.metadata.version(dist))
    return _VERSIONS[dist]


def planted_in(value):
    low = (value or "").lower()
    return [w for w in CANARY_WORDS if w in low]


def records_for(lib, desc, exc_info, client_options):
    event, _hint = event_from_exception(exc_info, client_options=client_options)
    out = []
    for v in event["exception"]["values"]:
        out.append({
            "lib": lib_label(lib),
            "case": desc,
            "type": v.get("type"),
            "module": v.get("module"),
            "value": v.get("value"),
            "planted": planted_in(v.get("value")),
        })
    return out


def run_case(c, client_options):
    """Run one case; return its records, or raise RuntimeError when it did not fail."""
    fn = c.fn
    try:
        if asyncio.iscoroutinefunction(fn):
            asyncio.run(fn())
        else:
            fn()
    except BaseException:  # noqa: B902 - CancelledError, KeyboardInterrupt-like cases too
        exc_info = sys.exc_info()
        if exc_info[0] is KeyboardInterrupt:
            raise
        return records_for(c.lib, c.desc, exc_info, client_options)
    raise RuntimeError("case did not raise: %s / %s" % (c.lib, c.desc))


def run_case_as_nobody(c, client_options):
    """Root ignores file permissions: run the case in a child that dropped to uid 65534."""
    if os.geteuid() != 0:
        return run_case(c, client_options)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            data = pickle.dumps(("ok", run_case(c, client_options)))
        except BaseException as e:  # noqa: B902
            data = pickle.dumps(("err", repr(e)))
        with os.fdopen(w, "wb") as f:
            f.write(data)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        status, payload = pickle.loads(f.read())
    os.waitpid(pid, 0)
    if status != "ok":
        raise RuntimeError(payload)
    return payload


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Fixed hash seed: dicts built from sets (SQLAlchemy parameters...) print in one order.
        os.execve(sys.executable, [sys.executable] + sys.argv,
                  dict(os.environ, PYTHONHASHSEED="0"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "corpus.jsonl"))
    ap.add_argument("--only", help="run only cases whose lib or case contains this text")
    ap.add_argument("--list", action="store_true", help="print the records instead of writing")
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # library warnings (insecure key lengths...) are noise here

    # An initialised client without a DSN: nothing is sent, and its options are the SDK defaults
    # that event_from_exception receives in a real app.
    sentry_sdk.init(dsn=None, default_integrations=False)
    client_options = sentry_sdk.get_client().options

    env.prepare_workdir()
    services = env.Services()
    services.start()
    try:
        for name in CASE_MODULES:
            __import__(name)
        records, failures = [], []
        seen = set()
        for c in env.CASES:
            key = (c.lib, c.desc)
            if key in seen:
                raise SystemExit("duplicate case: %r" % (key,))
            seen.add(key)
            if args.only and args.only not in c.lib and args.only not in c.desc:
                continue
            missing = [n for n in c.needs if not services.available(n)]
            if missing:
                print("skip (no %s): %s / %s" % (",".join(missing), c.lib, c.desc), file=sys.stderr)
                continue
            try:
                runner = run_case_as_nobody if c.as_nobody else run_case
                records.extend(runner(c, client_options))
            except Exception:
                failures.append((c.lib, c.desc, traceback.format_exc()))
    finally:
        services.stop()

    for lib, desc, tb in failures:
        print("FAILED %s / %s\n%s" % (lib, desc, tb), file=sys.stderr)

    # Stable order: by lib, then case; the values of one case keep the SDK's order
    # (innermost cause first, the exception that was caught last).
    records.sort(key=lambda r: (r["lib"], r["case"]))
    lines = [json.dumps(r, ensure_ascii=False, sort_keys=False) for r in records]
    if args.list:
        print("\n".join(lines))
    else:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    libs = {}
    for r in records:
        libs[r["lib"]] = libs.get(r["lib"], 0) + 1
    for lib in sorted(libs):
        print("%5d  %s" % (libs[lib], lib), file=sys.stderr)
    print("%5d  records, %d with planted data, %d cases failed to raise or crashed"
          % (len(records), sum(1 for r in records if r["planted"]), len(failures)), file=sys.stderr)
    shutil.rmtree(env.WORK, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
