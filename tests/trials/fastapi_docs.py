"""Trial app (issue 17): a FastAPI document service of an estate-management firm, written
the way FastAPI users write one: pydantic v2 models, async SQLAlchemy (aiosqlite), an
httpx call to a render service (whose default URL still points at a developer's laptop),
a `requests` webhook in a sync endpoint, a `gen_ai.chat` span around the summary call.
FastApiIntegration / StarletteIntegration are the SDK's defaults (auto-enabled).

Driven in-process with `fastapi.testclient.TestClient`: each request below makes the
error its users hit, with the planted values in exception messages, in the source lines
around the raise, in span names, in release / environment / server_name.
"""
import os
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import requests
import sentry_sdk
from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import capture
from capture import EMAIL, HOST, QUERY, TOKEN
from capture import PERSON17 as PERSON
from capture import TITLE17 as TITLE

capture.init(
    [],
    user={"id": "u-1187", "username": "obrackenbury", "email": EMAIL},
    release="docs-api@2.3.0+ottoline-laptop",
    environment="dev-ottoline",
    server_name=os.environ.get("TRIAL_SERVER_NAME", "ottoline-laptop"),
)

RENDER_URL = os.environ.get("RENDER_URL", f"http://{HOST}:8088")
WEBHOOK_URL = os.environ.get("WEBHOOK_URL", f"http://{HOST}:8089/hooks/docs")
CACHE_URL = os.environ.get("CACHE_URL", "http://127.0.0.1:9")  # nothing listens there
DOCS_DIR = Path(tempfile.mkdtemp(prefix="docs-store-"))
engine = create_async_engine(f"sqlite+aiosqlite:///{DOCS_DIR / 'docs.db'}")
Session = async_sessionmaker(engine, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(200), unique=True)


class Document(Base):
    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    pages: Mapped[int]
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    archived: Mapped[bool] = mapped_column(default=False)


class DocumentIn(BaseModel):
    title: str = Field(max_length=200)
    pages: int = Field(ge=1)
    owner_name: str
    owner_email: str


class ShareRequest(BaseModel):
    document_id: int
    recipient: str
    expires_in_days: int


class SearchError(Exception):
    pass


class PreviewUnavailable(Exception):
    pass


class DocumentView:
    def __init__(self, doc):
        self.doc = doc

    def field_title(self):
        return self.doc.title

    def field_pages(self):
        return self.doc.pages


LETTER_TEMPLATES = {"cover": "Dear {name}, please find enclosed {title}.", "reminder": "Dear {name}, a reminder."}

@asynccontextmanager
async def lifespan(app):
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield
    await engine.dispose()


app = FastAPI(title="estate documents", lifespan=lifespan)


async def get_document(session: AsyncSession, doc_id: int) -> Document:
    doc = await session.get(Document, doc_id)
    if doc is None:
        raise HTTPException(status_code=404)
    return doc


@app.post("/documents", status_code=201)
async def create_document(body: DocumentIn):
    async with Session() as session:
        # Two clerks filing for the same owner at once: the second insert violates the
        # unique email (IntegrityError, with the statement's parameters in its message).
        owner = Person(name=body.owner_name, email=body.owner_email)
        session.add(owner)
        await session.flush()
        doc = Document(title=body.title, pages=body.pages, owner_id=owner.id)
        session.add(doc)
        await session.commit()
        return {"id": doc.id}


@app.get("/documents")
async def list_documents(sort: str = "title"):
    async with Session() as session:
        docs = (await session.scalars(select(Document))).all()
    return sorted((getattr(DocumentView(d), f"field_{sort}")() for d in docs))


@app.get("/documents/{doc_id}/preview")
async def preview(doc_id: int):
    async with Session() as session:
        doc = await get_document(session, doc_id)
    url = f"{RENDER_URL}/render/{doc_id}"
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            r = await client.get(url, params={"token": TOKEN, "title": doc.title})
    except httpx.ConnectError as exc:
        raise PreviewUnavailable(f"render service {url} unreachable for {doc.title!r}") from exc
    return r.json()


@app.post("/documents/{doc_id}/notify")
def notify(doc_id: int):
    # sync endpoint (threadpool), legacy webhook client
    r = requests.post(f"{WEBHOOK_URL}?token={TOKEN}", json={"document": doc_id, "cc": "Wendeline Harrowgate"}, timeout=5)
    # TODO(Perpetua Goldthwaite): retry once the partner's endpoint is back
    r.raise_for_status()
    return {"sent": True}


@app.get("/documents/{doc_id}/download")
async def download(doc_id: int):
    async with Session() as session:
        doc = await get_document(session, doc_id)
    with open(DOCS_DIR / f"{doc.title}.pdf", "rb") as f:
        return {"size": len(f.read())}


@app.get("/search")
async def search(q: str):
    async with Session() as session:
        docs = (await session.scalars(select(Document).where(Document.title == q))).all()
    if not docs:
        try:
            raise SearchError(f"no results for {q}")
        except SearchError:
            sentry_sdk.capture_exception()
        return []
    return [d.id for d in docs]


@app.post("/letters")
async def render_letter(request: Request):
    form = await request.json()
    template = LETTER_TEMPLATES[form["template"]]
    copies = int(form["copies"])
    return {"letters": [template] * copies}


@app.post("/shares")
async def share(request: Request):
    share = ShareRequest.model_validate(await request.json())
    return {"share": share.document_id}


@app.post("/documents/{doc_id}/summary")
async def summarise(doc_id: int, request: Request):
    prompt = (await request.json())["prompt"]
    async with Session() as session:
        doc = await get_document(session, doc_id)
    messages = [{"role": "system", "content": "You summarise estate documents."}, {"role": "user", "content": prompt}]
    with capture.span("gen_ai.chat", f"chat gpt-4o {prompt}") as span:
        span.set_data("gen_ai.operation.name", "chat")
        span.set_data("gen_ai.request.model", "gpt-4o")
        span.set_data("gen_ai.usage.input_tokens", 212)
        span.set_data("gen_ai.usage.output_tokens", 64)
        summary = f"{doc.title}: {doc.pages} pages."
    with capture.span("pdf.render", f"cover letter for {PERSON}"):
        pass
    return {"summary": summary, "messages": len(messages)}


# --- technical errors: no user data in their messages ---------------------------------

@app.get("/stats/archive")
async def archive_stats():
    async with Session() as session:
        archived = (await session.scalars(select(Document).where(Document.archived))).all()
    # Perpetua Goldthwaite (finance) wants Wendeline Harrowgate's estate left out, ticket FIN-311
    excluded = {"Wendeline Harrowgate"}
    partner_key = "sk_live_CANARY51f0c2b8"
    total_pages = sum(d.pages for d in archived if d.title not in excluded)
    return {"avg_pages": total_pages / len(archived), "key": bool(partner_key)}


@app.get("/documents/{doc_id}/thumbnail")
async def thumbnail(doc_id: int):
    try:
        import weasyprint  # optional extra: pip install docs-api[pdf]
    except ImportError:
        sentry_sdk.capture_exception()
        return {"thumbnail": None}
    return {"thumbnail": weasyprint.__version__}


@app.get("/health/cache")
async def cache_health():
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            await client.get(f"{CACHE_URL}/ping")
    except httpx.ConnectError:
        sentry_sdk.capture_exception()
        return {"cache": "down"}
    return {"cache": "up"}


@app.get("/health/config")
async def config_health():
    try:
        return {"db": os.environ["DATABASE_URL"]}
    except KeyError:
        sentry_sdk.capture_exception()
        return {"db": "default"}


@app.get("/whoami")
async def whoami(request: Request):
    client_ip = request.headers.get("x-forwarded-for").split(",")[0]
    return {"ip": client_ip}


@app.get("/documents/{doc_id}/owner")
async def owner(doc_id: int):
    from sqlalchemy.exc import NoResultFound

    async with Session() as session:
        try:
            person = (await session.execute(select(Person).join(Document).where(Document.id == doc_id))).scalar_one()
        except NoResultFound:
            sentry_sdk.capture_exception()
            return {"owner": None}
    return {"owner": person.id}


with TestClient(app, raise_server_exceptions=False) as client:
    doc = {"title": TITLE, "pages": 14, "owner_name": PERSON, "owner_email": EMAIL}
    assert client.post("/documents", json=doc).status_code == 201
    # the same owner filed again by a second clerk: IntegrityError
    assert client.post("/documents", json=dict(doc, title="Survey 1921")).status_code == 500
    assert client.get("/documents", params={"sort": f"{PERSON} notes"}).status_code == 500
    assert client.get("/documents/1/preview").status_code == 500
    assert client.post("/documents/1/notify").status_code == 500
    assert client.get("/documents/1/download").status_code == 500
    assert client.get("/search", params={"q": QUERY}).status_code == 200
    assert client.post("/letters", json={"template": f"Letter to {PERSON}", "copies": "2"}).status_code == 500
    assert client.post("/letters", json={"template": "cover", "copies": f"3 for {PERSON}"}).status_code == 500
    share = {"document_id": 1, "recipient": EMAIL, "expires_in_days": f"until {PERSON} returns"}
    assert client.post("/shares", json=share).status_code == 500
    assert client.post("/documents/1/summary", json={"prompt": f"summarise {TITLE} for the heirs"}).status_code == 200
    # technical ones
    assert client.get("/stats/archive").status_code == 500
    assert client.get("/documents/1/thumbnail").status_code == 200
    assert client.get("/health/cache").status_code == 200
    assert client.get("/health/config").status_code == 200
    assert client.get("/whoami").status_code == 500
    assert client.get("/documents/999/owner").status_code == 200
capture.done()
