"""SQLAlchemy 2.x on sqlite and on PostgreSQL (psycopg 3 and psycopg2 drivers)."""
import datetime

from sqlalchemy import (Date, ForeignKey, Integer, String, create_engine, select, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from corpus_env import (CLOSED_PORT, EMAIL, HOST, LOOP, NAME, PG_DB, PG_PASSWORD, PG_PORT, PG_USER,
                        QUERY, SLUG, TITLE, WORK, case)

SA = "sqlalchemy"
FORM = {"email": EMAIL, "name": NAME, "birthday": "31/12/1984", "q": QUERY, "slug": SLUG,
        "title": TITLE, "age": "Zephyrine"}


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    birthday: Mapped[datetime.date] = mapped_column(Date, nullable=True)
    documents = relationship("Doc", back_populates="owner")


class Doc(Base):
    __tablename__ = "docs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(20))
    owner = relationship("User", back_populates="documents")


class AuditLog(Base):
    """Never created: its migration did not run."""
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_email: Mapped[str] = mapped_column(String(120))


_engines = {}


def engine(kind="sqlite"):
    if kind not in _engines:
        if kind == "sqlite":
            e = create_engine("sqlite://")
        else:
            url = "postgresql+%s://%s:%s@%s:%d/%s" % (kind, PG_USER, PG_PASSWORD, LOOP, PG_PORT,
                                                      PG_DB)
            with create_engine(url).begin() as c:
                c.execute(text("CREATE SCHEMA IF NOT EXISTS sa_%s" % kind))
            e = create_engine(url, connect_args={"options": "-csearch_path=sa_%s" % kind})
        Base.metadata.create_all(e, tables=[User.__table__, Doc.__table__])
        with Session(e) as s:
            s.add_all([User(email=EMAIL, name=NAME), User(email="zq@example.org", name=NAME)])
            s.commit()
        _engines[kind] = e
    return _engines[kind]


# ---------------------------------------------------------------- sqlite ---------------------

@case(SA, "IntegrityError: sqlite UNIQUE on flush with the email in parameters")
def _():
    with Session(engine()) as s:
        s.add(User(email=FORM["email"], name=FORM["name"]))
        s.commit()


@case(SA, "PendingRollbackError: session used again after a failed flush (bug)")
def _():
    with Session(engine()) as s:
        s.add(User(email=FORM["email"], name=FORM["name"]))
        try:
            s.flush()
        except Exception:
            pass
        s.execute(select(User).where(User.email == FORM["email"])).all()


@case(SA, "NoResultFound: scalar_one() of a lookup by email")
def _():
    with Session(engine()) as s:
        s.execute(select(User).where(User.email == "z.quillfeather@example.com")).scalar_one()


@case(SA, "MultipleResultsFound: scalar_one() of a lookup by name")
def _():
    with Session(engine()) as s:
        s.execute(select(User).where(User.name == FORM["name"])).scalar_one()


@case(SA, "OperationalError: sqlite no such table, with bound parameters")
def _():
    with Session(engine()) as s:
        s.execute(select(AuditLog).where(AuditLog.actor_email == FORM["email"])).all()


@case(SA, "OperationalError: sqlite text() query built with string formatting")
def _():
    with engine().connect() as c:
        c.execute(text("SELECT * FROM docs WHERE title = %s" % FORM["title"]))


@case(SA, "StatementError: Date column given a typed string")
def _():
    with Session(engine()) as s:
        s.add(User(email="new@example.org", name=FORM["name"], birthday=FORM["birthday"]))
        s.commit()


@case(SA, "StatementError: missing bind parameter (bug)")
def _():
    with engine().connect() as c:
        c.execute(text("SELECT * FROM users WHERE email = :email AND name = :name"),
                  {"email": FORM["email"]})


@case(SA, "OperationalError: sqlite unable to open database file")
def _():
    with create_engine("sqlite:///%s/missing/app.db" % WORK).connect():
        pass


@case(SA, "ArgumentError: create_engine of a malformed URL")
def _():
    create_engine("postgres//%s:5432/app" % HOST)


@case(SA, "NoSuchModuleError: create_engine of an unknown dialect")
def _():
    create_engine("postgress://app@%s/app" % LOOP)


@case(SA, "InvalidRequestError: attribute refresh of an expired detached object (bug)")
def _():
    with Session(engine()) as s:
        u = s.execute(select(User).where(User.email == FORM["email"])).scalar_one()
        s.expire(u)
    return u.email


@case(SA, "DetachedInstanceError: lazy load after the session closed (bug)")
def _():
    with Session(engine()) as s:
        u = s.execute(select(User).where(User.email == FORM["email"])).scalar_one()
    return u.documents


@case(SA, "ArgumentError: unknown column in filter_by (bug)")
def _():
    with Session(engine()) as s:
        s.query(User).filter_by(emial=FORM["email"]).all()


@case(SA, "InvalidRequestError: Session.get() with a slug as primary key")
def _():
    with Session(engine()) as s:
        s.get(User, {"slug": FORM["slug"]})


# ---------------------------------------------------------------- PostgreSQL -----------------

for _drv in ("psycopg", "psycopg2"):
    def _register(drv):
        pg = ["postgres"]

        @case(SA, "IntegrityError: PostgreSQL unique violation via %s" % drv, needs=pg)
        def _():
            with Session(engine(drv)) as s:
                s.add(User(email=FORM["email"], name=FORM["name"]))
                s.commit()

        @case(SA, "IntegrityError: PostgreSQL not-null violation via %s" % drv, needs=pg)
        def _():
            with Session(engine(drv)) as s:
                s.add(User(email=None, name=FORM["name"]))
                s.commit()

        @case(SA, "DataError: PostgreSQL invalid integer from a form via %s" % drv, needs=pg)
        def _():
            with engine(drv).connect() as c:
                c.execute(text("SELECT * FROM users WHERE id = :id"), {"id": FORM["age"]}).all()

        @case(SA, "DataError: PostgreSQL invalid date from a form via %s" % drv, needs=pg)
        def _():
            with engine(drv).connect() as c:
                c.execute(text("SELECT * FROM users WHERE birthday = CAST(:d AS date)"),
                          {"d": FORM["birthday"]}).all()

        @case(SA, "DataError: PostgreSQL value too long via %s" % drv, needs=pg)
        def _():
            with Session(engine(drv)) as s:
                u = s.execute(select(User).where(User.email == FORM["email"])).scalar_one()
                s.add(Doc(owner=u, title=FORM["title"]))
                s.commit()

        @case(SA, "ProgrammingError: PostgreSQL undefined column via %s" % drv, needs=pg)
        def _():
            with engine(drv).connect() as c:
                c.execute(text("SELECT emial FROM users WHERE email = :e"), {"e": FORM["email"]})

        @case(SA, "OperationalError: PostgreSQL connection refused via %s" % drv)
        def _():
            with create_engine("postgresql+%s://%s:%s@%s:%d/%s" % (
                    drv, PG_USER, PG_PASSWORD, LOOP, CLOSED_PORT, PG_DB)).connect():
                pass

        @case(SA, "OperationalError: PostgreSQL unresolvable host via %s" % drv)
        def _():
            with create_engine("postgresql+%s://%s:%s@%s:5432/%s" % (
                    drv, PG_USER, PG_PASSWORD, HOST, PG_DB)).connect():
                pass
    _register(_drv)
