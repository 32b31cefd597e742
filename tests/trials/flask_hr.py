"""Trial app 2: a Flask HR API with SQLAlchemy when available (default transaction style:
the endpoint, so the route template is not in the event)."""
from flask import Flask

import sentry_sdk
from sentry_sdk.integrations.flask import FlaskIntegration

import capture
from capture import PERSON, SLUG, TITLE

capture.init([FlaskIntegration()])
app = Flask("hr")

try:
    import sqlalchemy

    engine = sqlalchemy.create_engine("sqlite://")
except ImportError:  # sentry-sdk 1.x trial venv has no SQLAlchemy
    engine = None


@app.get("/people/<slug>/cv/")
def person_cv(slug):
    with capture.span("file.upload", f"upload doc_8c21e0 by {PERSON}"):
        if engine is not None:
            with engine.connect() as c:
                c.execute(sqlalchemy.text("SELECT :t AS title"), {"t": TITLE})
    with capture.span("serialize", f"render cv of {PERSON}"):
        pass
    try:
        raise KeyError(slug)
    except KeyError:
        sentry_sdk.capture_exception()
    return {"ok": True}


with app.test_client() as client:
    assert client.get(f"/people/{SLUG}/cv/").status_code == 200
    assert client.get(f"/api/v2/people/{SLUG}").status_code == 404
with capture.custom_transaction(f"export cv for {PERSON}", "custom"):
    pass
capture.done()
