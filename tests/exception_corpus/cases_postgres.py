"""PostgreSQL through psycopg (3) and psycopg2 directly, against a real local server."""
import psycopg
import psycopg2

from corpus_env import (CLOSED_PORT, EMAIL, HOST, LOOP, NAME, PG_DB, PG_PASSWORD, PG_PORT, PG_USER,
                        QUERY, SLUG, TITLE, case)

PG = ["postgres"]
FORM = {"email": EMAIL, "name": NAME, "age": "Zephyrine", "birthday": "31/12/1984", "q": QUERY,
        "slug": SLUG, "title": TITLE}

SCHEMA = """
CREATE TABLE IF NOT EXISTS {s}.customers (
  id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL,
  plan text CHECK (plan IN ('free', 'pro')) DEFAULT 'free', born date);
CREATE TABLE IF NOT EXISTS {s}.documents (
  id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES {s}.customers(id),
  title varchar(20) NOT NULL);
"""

_ready = set()


def conn3(**kw):
    params = dict(host=LOOP, port=PG_PORT, user=PG_USER, password=PG_PASSWORD, dbname=PG_DB,
                  connect_timeout=3)
    params.update(kw)
    c = psycopg.connect(**params)
    if "psycopg" not in _ready:
        with c.transaction():
            c.execute("CREATE SCHEMA IF NOT EXISTS p3")
            c.execute(SCHEMA.format(s="p3"))
            c.execute("INSERT INTO p3.customers (email, name) VALUES (%s, %s)", (EMAIL, NAME))
        _ready.add("psycopg")
    c.execute("SET search_path TO p3")
    return c


def conn2(**kw):
    params = dict(host=LOOP, port=PG_PORT, user=PG_USER, password=PG_PASSWORD, dbname=PG_DB,
                  connect_timeout=3)
    params.update(kw)
    c = psycopg2.connect(**params)
    if "psycopg2" not in _ready:
        with c.cursor() as cur:
            cur.execute("CREATE SCHEMA IF NOT EXISTS p2")
            cur.execute(SCHEMA.format(s="p2"))
            cur.execute("INSERT INTO p2.customers (email, name) VALUES (%s, %s)", (EMAIL, NAME))
        c.commit()
        _ready.add("psycopg2")
    with c.cursor() as cur:
        cur.execute("SET search_path TO p2")
    c.commit()
    return c


def run3(sql, params=None):
    with conn3() as c:
        c.execute(sql, params)


def run2(sql, params=None):
    c = conn2()
    try:
        with c.cursor() as cur:
            cur.execute(sql, params)
    finally:
        c.close()


# The same failures through both drivers: psycopg 3 binds on the server, psycopg2 interpolates
# on the client, so their messages differ (psycopg2's LINE excerpts show the literal values).
for _lib, _run in (("psycopg", run3), ("psycopg2-binary", run2)):
    def _register(lib, run):
        @case(lib, "UniqueViolation: insert of an existing email", needs=PG)
        def _():
            run("INSERT INTO customers (email, name) VALUES (%s, %s)", (FORM["email"], FORM["name"]))

        @case(lib, "ForeignKeyViolation: document for a missing customer", needs=PG)
        def _():
            run("INSERT INTO documents (customer_id, title) VALUES (%s, %s)", (4242, "Memoirs"))

        @case(lib, "NotNullViolation: failing row contains the name", needs=PG)
        def _():
            run("INSERT INTO customers (email, name) VALUES (%s, %s)", (None, FORM["name"]))

        @case(lib, "CheckViolation: failing row contains email and name", needs=PG)
        def _():
            run("INSERT INTO customers (email, name, plan) VALUES (%s, %s, %s)",
                ("new@example.org", FORM["name"], "enterprise"))

        @case(lib, "InvalidTextRepresentation: integer column given a form value", needs=PG)
        def _():
            run("SELECT * FROM customers WHERE id = %s::int", (FORM["age"],))

        @case(lib, "InvalidTextRepresentation: integer column given a slug", needs=PG)
        def _():
            run("SELECT * FROM documents WHERE id = %s::int", (FORM["slug"],))

        @case(lib, "InvalidDatetimeFormat: date column given a typed date", needs=PG)
        def _():
            run("SELECT * FROM customers WHERE born = %s::date", ("%s 1984" % FORM["name"],))

        @case(lib, "DatetimeFieldOverflow: date out of range", needs=PG)
        def _():
            run("SELECT * FROM customers WHERE born = %s::date", (FORM["birthday"],))

        @case(lib, "StringDataRightTruncation: title too long", needs=PG)
        def _():
            run("INSERT INTO documents (customer_id, title) VALUES (1, %s)", (FORM["title"],))

        @case(lib, "UndefinedColumn: typo in a column name with the email bound", needs=PG)
        def _():
            run("SELECT id FROM customers WHERE emial = %s", (FORM["email"],))

        @case(lib, "UndefinedTable: table missing with the title bound", needs=PG)
        def _():
            run("SELECT id FROM invoices WHERE title = %s", (FORM["title"],))

        @case(lib, "SyntaxError: SQL built with string formatting from the query", needs=PG)
        def _():
            run("SELECT id FROM documents WHERE title = %s" % FORM["q"].replace("%", ""))

        @case(lib, "InvalidRegularExpression: search query used as a regex", needs=PG)
        def _():
            run("SELECT id FROM documents WHERE title ~* %s", ("(" + FORM["q"],))

        @case(lib, "DivisionByZero: average over no rows (bug)", needs=PG)
        def _():
            run("SELECT count(*) / (SELECT count(*) FROM documents) FROM customers")

        @case(lib, "QueryCanceled: statement timeout", needs=PG)
        def _():
            run("SET statement_timeout = 50; SELECT pg_sleep(1)")

        @case(lib, "UndefinedFunction: operator does not exist (bug)", needs=PG)
        def _():
            run("SELECT id FROM customers WHERE id = %s::text", ("42",))

    _register(_lib, _run)


@case("psycopg", "InFailedSqlTransaction: query after an error in the transaction", needs=PG)
def _():
    with conn3() as c:
        try:
            c.execute("INSERT INTO customers (email, name) VALUES (%s, %s)", (EMAIL, NAME))
        except psycopg.errors.UniqueViolation:
            pass
        c.execute("SELECT id FROM customers WHERE email = %s", (EMAIL,))


@case("psycopg2-binary", "InFailedSqlTransaction: query after an error in the transaction",
      needs=PG)
def _():
    c = conn2()
    cur = c.cursor()
    try:
        cur.execute("INSERT INTO customers (email, name) VALUES (%s, %s)", (EMAIL, NAME))
    except psycopg2.errors.UniqueViolation:
        pass
    cur.execute("SELECT id FROM customers WHERE email = %s", (EMAIL,))


@case("psycopg", "OperationalError: connection refused")
def _():
    psycopg.connect(host=LOOP, port=CLOSED_PORT, user=PG_USER, dbname=PG_DB, connect_timeout=2)


@case("psycopg2-binary", "OperationalError: connection refused")
def _():
    psycopg2.connect(host=LOOP, port=CLOSED_PORT, user=PG_USER, dbname=PG_DB, connect_timeout=2)


@case("psycopg", "OperationalError: unresolvable database host")
def _():
    psycopg.connect(host=HOST, user=PG_USER, dbname=PG_DB, connect_timeout=2)


@case("psycopg2-binary", "OperationalError: unresolvable database host")
def _():
    psycopg2.connect(host=HOST, user=PG_USER, dbname=PG_DB, connect_timeout=2)


@case("psycopg", "OperationalError: password authentication failed", needs=PG)
def _():
    psycopg.connect(host=LOOP, port=PG_PORT, user=PG_USER, password="wrong", dbname=PG_DB)


@case("psycopg2-binary", "OperationalError: password authentication failed", needs=PG)
def _():
    psycopg2.connect(host=LOOP, port=PG_PORT, user=PG_USER, password="wrong", dbname=PG_DB)


@case("psycopg", "OperationalError: per-tenant database named after a client does not exist",
      needs=PG)
def _():
    psycopg.connect(host=LOOP, port=PG_PORT, user=PG_USER, password=PG_PASSWORD,
                    dbname="tenant_globex")


@case("psycopg2-binary", "OperationalError: role named after a person does not exist", needs=PG)
def _():
    psycopg2.connect(host=LOOP, port=PG_PORT, user="zephyrine", password="x", dbname=PG_DB)


@case("psycopg", "ProgrammingError: wrong number of parameters (bug)", needs=PG)
def _():
    run3("SELECT id FROM customers WHERE email = %s AND name = %s", (EMAIL,))


@case("psycopg2-binary", "IndexError: wrong number of parameters (bug)", needs=PG)
def _():
    run2("SELECT id FROM customers WHERE email = %s AND name = %s", (EMAIL,))


@case("psycopg", "InterfaceError: connection already closed (bug)", needs=PG)
def _():
    c = conn3()
    c.close()
    c.execute("SELECT 1")


@case("psycopg2-binary", "InterfaceError: cursor already closed (bug)", needs=PG)
def _():
    c = conn2()
    cur = c.cursor()
    cur.close()
    cur.execute("SELECT 1")
