"""Scrub fixtures with the real binary, as the SecOps reviewer would: `sentry-scrub-proxy scrub
FILE --consent-file CONSENT` with every other flag at its default (`--unattributed drop`,
`--company-tag company_id`), the company of the capture app consented with or without IDs."""
import json
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

from span_canaries import COMPANY_ID

CONSENTS = {
    "ids": {"telemetry_enabled": True, "companies": {COMPANY_ID: {"telemetry_enabled": True, "telemetry_ids_allowed": True}}},
    "no_ids": {"telemetry_enabled": True, "companies": {COMPANY_ID: {"telemetry_enabled": True, "telemetry_ids_allowed": False}}},
}


def scrub_folder(proxy_bin, folder, consent, with_report=False, names=None, extra_args=()):
    """Fixture name -> scrubbed envelope (or (envelope, report) with `with_report`), for
    every fixture of the folder or the given `names`."""
    index = names if names is not None else json.load(open(os.path.join(folder, "index.json")))["fixtures"]
    with tempfile.TemporaryDirectory(prefix="spans-consent-") as tmp:
        path = os.path.join(tmp, "consent.json")
        with open(path, "w") as fh:
            json.dump(CONSENTS[consent], fh)

        def one(name):
            args = [proxy_bin, "scrub", os.path.join(folder, name), "--consent-file", path, *extra_args]
            r = subprocess.run(args, capture_output=True, timeout=60)
            if r.returncode != 0:
                raise AssertionError(f"scrub {name} exited {r.returncode}: {r.stderr.decode(errors='replace')[-500:]}")
            return name, ((r.stdout, r.stderr) if with_report else r.stdout)

        # Two at a time: the machine's cores; each run is mostly the debug binary's start-up.
        with ThreadPoolExecutor(max_workers=2) as pool:
            return dict(pool.map(one, sorted(index)))
