#!/usr/bin/env python3
"""Writes the path words of well-known API endpoints (crates/scrub/src/words/api_words.txt):
the words of the URL paths that the client libraries of the services SDKs instrument call,
one per line, sorted.

Why: a URL path segment leaves only when it is technical (an id, a number, a template
parameter, or made of known API words); any other word is masked, because a path built
from data (`/people/zephyrine-canarywood/cv/`) holds a name or a title. The hand-written
`API_WORDS` (crates/scrub/src/normalize/ident.rs) does not know the words of the APIs an
app calls: OpenAI's `/v1/chat/completions` became `/v1/chat/*`. The words of the endpoints
that the vendors' own clients call are the vocabulary of those APIs, not user data.

Where the paths come from (each vendor's official client, pinned in
scripts/requirements-api-words.txt, so the list is reproducible):

  - Python string literals that are URL paths (`"/chat/completions"`,
    `f"/repos/{owner}/{repo}/pulls"`): OpenAI, Anthropic, Mistral, Cohere, Google GenAI,
    Stripe, Elasticsearch, GitHub (PyGithub);
  - the Slack Web API's method names (`chat.postMessage`, the path `/api/chat.postMessage`);
  - the `requestUri` of every operation of the AWS services in AWS_SERVICES (botocore's
    service models: S3, Lambda, Bedrock, SQS, SNS, DynamoDB, ...);
  - the `path`/`flatPath` of every method of the Google APIs in GOOGLE_APIS (the discovery
    documents shipped with google-api-python-client: Cloud Storage, Vertex AI, BigQuery,
    Drive, Gmail, ...).

Each path is cut into segments; segments that are template parameters (`{id}`, `{+name}`)
are skipped; the rest are split at `_-.:~` and camel humps (`postMessage`,
`generateContent`), lower-cased; words of three letters or more, ASCII letters only, are
kept (shorter words are technical anyway). Words of the test folders are not read.

Usage:
    python3 -m venv /tmp/api-words && /tmp/api-words/bin/pip install -r scripts/requirements-api-words.txt
    /tmp/api-words/bin/python scripts/gen-api-words.py
"""
import gzip
import io
import json
import os
import re
import sys
import sysconfig
import tokenize

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crates", "scrub", "src", "words", "api_words.txt")

# Packages whose string literals are read (import name → folder in site-packages).
PY_PACKAGES = ["openai", "anthropic", "mistralai", "cohere", "google/genai", "stripe", "elasticsearch", "github"]
AWS_SERVICES = [
    "s3", "lambda", "bedrock", "bedrock-runtime", "bedrock-agent", "bedrock-agent-runtime", "sagemaker-runtime",
    "sqs", "sns", "dynamodb", "kinesis", "secretsmanager", "ses", "sesv2", "apigateway", "cloudfront", "ecr",
    "events", "stepfunctions", "comprehend", "textract", "translate", "rekognition", "polly", "transcribe",
]
GOOGLE_APIS = [
    "storage.v1", "aiplatform.v1", "bigquery.v2", "drive.v3", "gmail.v1", "calendar.v3", "sheets.v4", "docs.v1",
    "pubsub.v1", "translate.v3", "vision.v1", "speech.v1", "language.v2",
    "youtube.v3", "people.v1", "admin.directory_v1", "cloudtasks.v2", "run.v2", "secretmanager.v1",
]
# Media types look like paths (`application/vnd.github.mercy-preview+json`); GitHub's
# preview names are code names (`luke-cage`, `squirrel-girl`), not endpoints.
MEDIA_TYPES = ("application/", "text/", "image/", "audio/", "video/", "multipart/", "font/", "model/")
SKIP_DIRS = {"test", "tests", "testing", "__pycache__", "examples"}

PATH_LITERAL = re.compile(r"^/?(?:[A-Za-z0-9_.:~+\-]+|\{[^{}/]*\})(?:/(?:[A-Za-z0-9_.:~+\-]*|\{[^{}/]*\}))+$")
SLACK_METHOD = re.compile(r"^[a-z]+(?:\.[a-zA-Z]+)+$")
WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")


def words_of_path(path, out):
    for seg in path.split("?", 1)[0].split("/"):
        if not seg or "{" in seg or "}" in seg:
            continue
        for part in re.split(r"[_\-.:~+]", seg):
            for w in WORD.findall(part):
                w = w.lower()
                if len(w) >= 3 and w.isascii() and w.isalpha():
                    out.add(w)


def string_literals(path):
    with open(path, "rb") as f:
        src = f.read()
    try:
        for tok in tokenize.tokenize(io.BytesIO(src).readline):
            if tok.type == tokenize.STRING:
                yield tok.string
    except (tokenize.TokenError, SyntaxError):
        return


def literal_text(tok):
    """The text of a string token, prefix and quotes removed (f-string fields kept as `{…}`)."""
    m = re.match(r"^([rRbBuUfF]*)('''|\"\"\"|'|\")(.*)\2$", tok, re.S)
    return m.group(3) if m else None


def python_paths(root, package, out):
    base = os.path.join(root, package)
    for dirpath, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for name in files:
            if not name.endswith(".py"):
                continue
            for tok in string_literals(os.path.join(dirpath, name)):
                text = literal_text(tok)
                if text and "/" in text and PATH_LITERAL.match(text) and not text.startswith(("//",) + MEDIA_TYPES):
                    words_of_path(text, out)


def slack_methods(root, out):
    for tok in string_literals(os.path.join(root, "slack_sdk", "web", "client.py")):
        text = literal_text(tok)
        if text and SLACK_METHOD.match(text):
            words_of_path(text, out)


def aws_paths(root, out):
    data = os.path.join(root, "botocore", "data")
    for service in AWS_SERVICES:
        folder = os.path.join(data, service)
        version = sorted(os.listdir(folder))[-1]
        path = os.path.join(folder, version, "service-2.json")
        opener = open
        if not os.path.exists(path):
            path += ".gz"
            opener = gzip.open
        with opener(path, "rt") as f:
            model = json.load(f)
        for op in model.get("operations", {}).values():
            uri = (op.get("http") or {}).get("requestUri")
            if uri:
                words_of_path(uri, out)


def google_paths(root, out):
    docs = os.path.join(root, "googleapiclient", "discovery_cache", "documents")

    def walk(resource):
        for method in (resource.get("methods") or {}).values():
            for key in ("path", "flatPath"):
                if method.get(key):
                    words_of_path(method[key], out)
        for sub in (resource.get("resources") or {}).values():
            walk(sub)

    for api in GOOGLE_APIS:
        with open(os.path.join(docs, api + ".json")) as f:
            doc = json.load(f)
        words_of_path(doc.get("servicePath") or "", out)
        walk(doc)


def main():
    root = sysconfig.get_paths()["purelib"]
    out = set()
    for package in PY_PACKAGES:
        python_paths(root, package, out)
    slack_methods(root, out)
    aws_paths(root, out)
    google_paths(root, out)
    with open(OUT, "w") as f:
        f.write("\n".join(sorted(out)) + "\n")
    print(f"{len(out)} words -> {os.path.relpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
