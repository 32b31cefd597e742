#!/usr/bin/env python3
"""Writes the code vocabulary (crates/scrub/src/words/
code_words.txt): the words that identifiers are made of in the Python standard library and
in the packages of .venv (Django, sentry-sdk, requests, ...), one per line, sorted.

Why: an attribute or module name inside an exception message (`no attribute 'field_total'`)
is kept only when every word of it is a word programmers use in code; a word built from
user input (`field_zephyrine`) is not one, so it becomes a placeholder. Person names and
the words of document titles do not appear in identifiers of these libraries, while the
vocabulary of programs (get, field, queryset, timeout) does.

A word counts when it appears, as a part of a NAME token (split at `_`, camel humps and
digits, lower-cased, three letters or more, ASCII), in at least MIN_FILES different files,
test folders excluded (tests name things after people: `alice = User(...)`).

Usage: scripts/gen-code-words.py [PYTHON...]   (default: .venv/bin/python)

The shipped list was made from .venv (scripts/requirements.txt) and the venv of the
exception corpus (tests/exception_corpus/requirements.txt: SQLAlchemy, psycopg, redis,
celery, pydantic, boto3, httpx, aiohttp, jinja2, ...), over CPython 3.11's standard library:

    scripts/gen-code-words.py .venv/bin/python /tmp/corpus-venv/bin/python
"""
import io
import keyword
import os
import re
import subprocess
import sys
import tokenize

MIN_FILES = 3
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crates", "scrub", "src", "words", "code_words.txt")
SKIP_DIRS = {"test", "tests", "testing", "idlelib", "turtledemo", "__pycache__", "site-packages"}
WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def roots(python):
    code = "import sysconfig; print(sysconfig.get_paths()['stdlib']); print(sysconfig.get_paths()['purelib'])"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout
    return out.split()


def words_of(path):
    with open(path, "rb") as f:
        src = f.read()
    found = set()
    for tok in tokenize.tokenize(io.BytesIO(src).readline):
        if tok.type != tokenize.NAME or keyword.iskeyword(tok.string):
            continue
        for part in tok.string.split("_"):
            for w in WORD.findall(part):
                w = w.lower()
                if len(w) >= 3 and w.isascii() and w.isalpha():
                    found.add(w)
    return found


def main():
    pythons = sys.argv[1:] or [os.path.join(HERE, "..", ".venv", "bin", "python")]
    files = {}
    seen = set()
    for root in (r for p in pythons for r in roots(p)):
        root = os.path.realpath(root)
        if root in seen:
            continue
        seen.add(root)
        for d, dirs, names in os.walk(root):
            dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS and not x.startswith("test_"))
            for n in names:
                if not n.endswith(".py") or n.startswith("test_"):
                    continue
                try:
                    ws = words_of(os.path.join(d, n))
                except (SyntaxError, tokenize.TokenError, UnicodeDecodeError, ValueError):
                    continue
                for w in ws:
                    files[w] = files.get(w, 0) + 1
    kept = sorted(w for w, n in files.items() if n >= MIN_FILES)
    with open(OUT, "w") as f:
        f.write("\n".join(kept) + "\n")
    print(f"{len(kept)} words -> {os.path.relpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
