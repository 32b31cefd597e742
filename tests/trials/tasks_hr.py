"""Trial app 3: a Celery task runner (eager, in-memory broker) and a plain threaded job
runner, as a nightly indexing script would be written."""
import threading

import sentry_sdk

import capture
from capture import PERSON, SLUG, TITLE

integrations = []
try:
    from celery import Celery
    from sentry_sdk.integrations.celery import CeleryIntegration

    integrations.append(CeleryIntegration())
except ImportError:
    Celery = None
capture.init(integrations)

if Celery is not None:
    app = Celery("hr", broker="memory://", backend="cache+memory://")
    app.conf.task_always_eager = True

    @app.task(name="hr.tasks.reindex_document")
    def reindex_document(title):
        with capture.span("file.upload", f"upload doc_8c21e0 by {PERSON}"):
            pass
        with capture.span("cache.get", f"cv:{SLUG}:pdf"):
            pass
        return len(title)

    reindex_document.delay(TITLE)


def job(title):
    with capture.custom_transaction(f"reindex document {title}", "task"):
        with capture.span("queue.process", "hr.jobs.reindex"):
            pass
        with capture.span("gen_ai.chat", f"chat gpt-4o summarise {title}"):
            pass
        with capture.span("http.client", f"GET http://10.0.3.7:9200/people/{SLUG}/_doc"):
            pass


t = threading.Thread(target=job, args=(TITLE,), name="reindexer")
t.start()
t.join()
with capture.custom_transaction("hr.jobs.nightly_export", "task"):
    pass
capture.done()
