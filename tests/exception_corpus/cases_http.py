"""HTTP clients and SDKs built on them: requests, urllib3, httpx, aiohttp, openai,
elasticsearch, boto3/botocore. Servers are local (127.0.0.1) or names that do not resolve."""
import os
import urllib.parse

from corpus_env import (CERT, CLOSED, CLOSED_PORT, EMAIL, ES_PORT, HOST, HTTP, LOOP, NAME,
                        OPENAI_PORT, QUERY, S3_PORT, SLUG, STALL, STALL_PORT, TITLE, TLS_PORT,
                        TOKEN, case)

Q = urllib.parse.quote_plus(QUERY)
PERSON_URL = HTTP + "/people/%s/?token=%s" % (SLUG, TOKEN)           # 404
EXPORT_URL = HTTP + "/api/export?title=%s&token=%s" % (urllib.parse.quote(TITLE), TOKEN)  # 500
SYNC_URL = HTTP + "/api/sync?user=%s" % urllib.parse.quote(EMAIL)    # 503
SEARCH_URL = HTTP + "/search?q=%s" % Q                                # 200 HTML
LAPTOP_URL = "https://%s/api/sync?token=%s" % (HOST, TOKEN)
TLS_URL = "https://%s:%d/documents/%s.pdf" % (LOOP, TLS_PORT, urllib.parse.quote(TITLE))

# ---------------------------------------------------------------- requests ------------------

import requests  # noqa: E402

RQ = "requests"


@case(RQ, "ConnectionError: unresolvable laptop host, token in the query")
def _():
    requests.get(LAPTOP_URL, timeout=2)


@case(RQ, "ConnectionError: closed port on 127.0.0.1, person slug in the path")
def _():
    requests.get(CLOSED + "/people/%s/?token=%s" % (SLUG, TOKEN), timeout=2)


@case(RQ, "HTTPError: raise_for_status 404 for a person's page")
def _():
    requests.get(PERSON_URL, timeout=2).raise_for_status()


@case(RQ, "HTTPError: raise_for_status 500 for an export of a document")
def _():
    requests.get(EXPORT_URL, timeout=2).raise_for_status()


@case(RQ, "HTTPError: raise_for_status 503 for a sync by email")
def _():
    requests.post(SYNC_URL, json={"name": NAME}, timeout=2).raise_for_status()


@case(RQ, "ReadTimeout: server accepts and never answers")
def _():
    requests.get(STALL + "/people/%s/" % SLUG, timeout=0.3)


@case(RQ, "InvalidURL: no host supplied")
def _():
    requests.get("http://", timeout=2)


@case(RQ, "InvalidURL: host with a space from a profile field")
def _():
    requests.get("http://%s.example.com/" % NAME, timeout=2)


@case(RQ, "MissingSchema: website typed by the user without scheme")
def _():
    requests.get("%s.example.com/cv.pdf" % SLUG, timeout=2)


@case(RQ, "InvalidSchema: no connection adapter")
def _():
    requests.get("ftp://files.example.com/%s.pdf" % urllib.parse.quote(TITLE), timeout=2)


@case(RQ, "JSONDecodeError: response.json() on an HTML page")
def _():
    requests.get(SEARCH_URL, timeout=2).json()


@case(RQ, "TooManyRedirects: redirect loop")
def _():
    requests.get(HTTP + "/loop?next=/people/%s" % SLUG, timeout=2)


@case(RQ, "SSLError: self-signed certificate, document title in the path")
def _():
    requests.get(TLS_URL, timeout=2)


@case(RQ, "ChunkedEncodingError: connection broken mid-body")
def _():
    requests.get(HTTP + "/broken-chunked", timeout=2).content


@case(RQ, "ConnectionError: server closed the connection without a response")
def _():
    requests.get(HTTP + "/hangup?q=%s" % Q, timeout=2)


# ---------------------------------------------------------------- urllib3 -------------------

import urllib3  # noqa: E402

U3 = "urllib3"


@case(U3, "MaxRetryError: NameResolutionError for the laptop host")
def _():
    urllib3.PoolManager(retries=urllib3.Retry(0)).request("GET", LAPTOP_URL, timeout=2)


@case(U3, "MaxRetryError: NewConnectionError on a closed port")
def _():
    urllib3.PoolManager(retries=urllib3.Retry(0)).request(
        "GET", CLOSED + "/people/%s/?token=%s" % (SLUG, TOKEN), timeout=2)


@case(U3, "MaxRetryError: too many 503 responses")
def _():
    urllib3.PoolManager().request("GET", SYNC_URL, timeout=2,
                                  retries=urllib3.Retry(total=1, status_forcelist=[503],
                                                        backoff_factor=0))


@case(U3, "ReadTimeoutError: no retries")
def _():
    urllib3.PoolManager().request("GET", STALL + "/x", timeout=0.3, retries=False)


@case(U3, "ProtocolError: connection aborted, remote disconnected")
def _():
    urllib3.PoolManager().request("GET", HTTP + "/hangup", retries=False, timeout=2)


@case(U3, "LocationParseError: URL with an invalid port")
def _():
    urllib3.util.parse_url("http://%s:%s/" % (LOOP, SLUG))


@case(U3, "SSLError: self-signed certificate, no retries")
def _():
    urllib3.PoolManager().request("GET", TLS_URL, retries=False, timeout=2)


@case(U3, "SSLError: hostname mismatch with a pinned CA")
def _():
    pool = urllib3.HTTPSConnectionPool(LOOP, TLS_PORT, ca_certs=CERT, assert_hostname=HOST,
                                       retries=False, timeout=2)
    pool.request("GET", "/")


# ---------------------------------------------------------------- httpx ---------------------

import httpx  # noqa: E402

HX = "httpx"


@case(HX, "ConnectError: closed port")
def _():
    httpx.get(CLOSED + "/people/%s/?token=%s" % (SLUG, TOKEN), timeout=2)


@case(HX, "ConnectError: unresolvable laptop host")
def _():
    httpx.get(LAPTOP_URL, timeout=2)


@case(HX, "HTTPStatusError: 404 for a person's page")
def _():
    httpx.get(PERSON_URL, timeout=2).raise_for_status()


@case(HX, "HTTPStatusError: 500 from an export endpoint")
def _():
    httpx.get(EXPORT_URL, timeout=2).raise_for_status()


@case(HX, "HTTPStatusError: 429 rate limited")
def _():
    httpx.get(HTTP + "/api/limited?user=%s" % urllib.parse.quote(EMAIL), timeout=2).raise_for_status()


@case(HX, "ReadTimeout: server never answers")
def _():
    httpx.get(STALL + "/search?q=%s" % Q, timeout=0.3)


@case(HX, "UnsupportedProtocol: URL without scheme")
def _():
    httpx.get("%s.example.com/cv.pdf" % SLUG, timeout=2)


@case(HX, "InvalidURL: non-numeric port")
def _():
    httpx.get("http://%s:%s/" % (LOOP, SLUG), timeout=2)


@case(HX, "ConnectError: self-signed certificate")
def _():
    httpx.get(TLS_URL, timeout=2)


@case(HX, "RemoteProtocolError: server disconnected without a response")
def _():
    httpx.get(HTTP + "/hangup", timeout=2)


@case(HX, "JSONDecodeError: response.json() on an HTML page")
def _():
    httpx.get(SEARCH_URL, timeout=2).json()


@case(HX, "ConnectError: AsyncClient to a closed port")
async def _():
    async with httpx.AsyncClient(timeout=2) as c:
        await c.get(CLOSED + "/api/search?q=%s" % Q)


@case(HX, "TooManyRedirects: redirect loop")
def _():
    httpx.get(HTTP + "/loop?next=/people/%s" % SLUG, timeout=2, follow_redirects=True)


# ---------------------------------------------------------------- aiohttp -------------------

import aiohttp  # noqa: E402

AH = "aiohttp"


@case(AH, "ClientConnectorError: closed port")
async def _():
    async with aiohttp.ClientSession() as s:
        await s.get(CLOSED + "/people/%s/?token=%s" % (SLUG, TOKEN))


@case(AH, "ClientConnectorDNSError: unresolvable laptop host")
async def _():
    async with aiohttp.ClientSession() as s:
        await s.get(LAPTOP_URL)


@case(AH, "ClientResponseError: raise_for_status 404 for a person's page")
async def _():
    async with aiohttp.ClientSession() as s:
        async with s.get(PERSON_URL) as r:
            r.raise_for_status()


@case(AH, "ClientResponseError: raise_for_status=True session, 500")
async def _():
    async with aiohttp.ClientSession(raise_for_status=True) as s:
        await s.get(EXPORT_URL)


@case(AH, "ContentTypeError: json() on an HTML page")
async def _():
    async with aiohttp.ClientSession() as s:
        async with s.get(SEARCH_URL) as r:
            await r.json()


@case(AH, "InvalidUrlClientError: URL without scheme")
async def _():
    async with aiohttp.ClientSession() as s:
        await s.get("%s.example.com/cv.pdf" % SLUG)


@case(AH, "TimeoutError: total timeout against a silent server")
async def _():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as s:
        await s.get(STALL + "/search?q=%s" % Q)


@case(AH, "ClientConnectorCertificateError: self-signed certificate")
async def _():
    async with aiohttp.ClientSession() as s:
        await s.get(TLS_URL)


@case(AH, "ServerDisconnectedError: server hung up")
async def _():
    async with aiohttp.ClientSession() as s:
        await s.get(HTTP + "/hangup")


# ---------------------------------------------------------------- openai --------------------

import openai  # noqa: E402

OA = "openai"
OPENAI_URL = "http://%s:%d/v1" % (LOOP, OPENAI_PORT)
MESSAGES = [{"role": "user", "content": "Summarise the %s for %s" % (QUERY, NAME)}]


@case(OA, "APIConnectionError: base_url on a closed port")
def _():
    c = openai.OpenAI(api_key="sk-test", base_url=CLOSED + "/v1", max_retries=0, timeout=2)
    c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


@case(OA, "AuthenticationError: 401 with the key masked by the server")
def _():
    c = openai.OpenAI(api_key=TOKEN, base_url=OPENAI_URL, max_retries=0, timeout=2)
    c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


@case(OA, "NotFoundError: 404 model does not exist")
def _():
    c = openai.OpenAI(api_key="sk-test", base_url=OPENAI_URL, max_retries=0, timeout=2)
    c.chat.completions.create(model="gpt-4o-mini-%s" % SLUG, messages=MESSAGES)


@case(OA, "RateLimitError: 429 tokens per minute")
def _():
    c = openai.OpenAI(api_key="sk-test", base_url=OPENAI_URL, max_retries=0, timeout=2)
    c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


@case(OA, "APITimeoutError: server never answers")
def _():
    c = openai.OpenAI(api_key="sk-test", base_url=STALL + "/v1", max_retries=0, timeout=0.3)
    c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


@case(OA, "OpenAIError: no API key configured")
def _():
    os.environ.pop("OPENAI_API_KEY", None)
    openai.OpenAI()


# ---------------------------------------------------------------- elasticsearch -------------

import elasticsearch  # noqa: E402

ES = "elasticsearch"


@case(ES, "ConnectionError: closed port")
def _():
    es = elasticsearch.Elasticsearch(CLOSED, max_retries=0, request_timeout=2)
    es.search(index="documents", query={"match": {"title": QUERY}})


@case(ES, "ConnectionError: unresolvable host")
def _():
    es = elasticsearch.Elasticsearch("http://%s:9200" % HOST, max_retries=0, request_timeout=2)
    es.get(index="people", id=SLUG)


@case(ES, "ConnectionTimeout: server never answers")
def _():
    es = elasticsearch.Elasticsearch(STALL, max_retries=0, request_timeout=0.3)
    es.search(index="documents", q=QUERY)


@case(ES, "NotFoundError: per-user index does not exist")
def _():
    es = elasticsearch.Elasticsearch("http://%s:%d" % (LOOP, ES_PORT), max_retries=0)
    es.search(index="docs-%s" % SLUG, query={"match_all": {}})


@case(ES, "BadRequestError: query_string parse failure echoes the query")
def _():
    es = elasticsearch.Elasticsearch("http://%s:%d" % (LOOP, ES_PORT), max_retries=0)
    es.search(index="documents", query={"query_string": {"query": "%s AND (" % QUERY}})


# ---------------------------------------------------------------- boto3 / botocore ----------

import boto3  # noqa: E402
import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402

BO = "botocore"
for _k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
    os.environ.pop(_k, None)
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/aws/credentials"
os.environ["AWS_CONFIG_FILE"] = "/nonexistent/aws/config"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
BUCKET = "%s-documents" % SLUG
KEY = "%s.pdf" % TITLE
FAST = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"},
                              connect_timeout=1, read_timeout=0.5)


def s3(endpoint, creds=True):
    kw = dict(region_name="eu-central-1", endpoint_url=endpoint, config=FAST)
    if creds:
        kw.update(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret")
    return boto3.client("s3", **kw)


@case(BO, "NoCredentialsError: no credentials anywhere")
def _():
    s3(None, creds=False).get_object(Bucket=BUCKET, Key=KEY)


@case(BO, "EndpointConnectionError: closed port, bucket and key named after a document")
def _():
    s3(CLOSED).put_object(Bucket=BUCKET, Key=KEY, Body=b"%PDF")


@case(BO, "EndpointConnectionError: unresolvable endpoint host")
def _():
    s3("https://%s:9000" % HOST).list_objects_v2(Bucket=BUCKET)


@case(BO, "ReadTimeoutError: endpoint never answers")
def _():
    s3(STALL).get_object(Bucket=BUCKET, Key=KEY)


@case(BO, "ClientError: NoSuchKey from GetObject")
def _():
    s3("http://%s:%d" % (LOOP, S3_PORT)).get_object(Bucket=BUCKET, Key=KEY)


@case(BO, "ClientError: AccessDenied from PutObject")
def _():
    s3("http://%s:%d" % (LOOP, S3_PORT)).put_object(Bucket=BUCKET, Key="private/%s" % KEY,
                                                    Body=b"%PDF")


@case(BO, "ClientError: 404 from HeadObject")
def _():
    s3("http://%s:%d" % (LOOP, S3_PORT)).head_object(Bucket=BUCKET, Key=KEY)


@case(BO, "ClientError: SES MessageRejected names the unverified sender")
def _():
    ses = boto3.client("ses", region_name="us-east-1", endpoint_url="http://%s:%d" % (LOOP, S3_PORT),
                       aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret", config=FAST)
    ses.send_email(Source=EMAIL, Destination={"ToAddresses": ["team@example.org"]},
                   Message={"Subject": {"Data": QUERY}, "Body": {"Text": {"Data": "hi"}}})


@case(BO, "ParamValidationError: bucket name from a document title")
def _():
    s3(CLOSED).get_object(Bucket=TITLE, Key="index.html")


@case(BO, "ParamValidationError: wrong parameter type (bug)")
def _():
    s3(CLOSED).put_object(Bucket=BUCKET, Key=KEY, Body={"title": TITLE})


@case(BO, "ProfileNotFound: profile named after a person")
def _():
    boto3.session.Session(profile_name="zephyrine")


@case(BO, "NoRegionError: client without a region")
def _():
    os.environ.pop("AWS_DEFAULT_REGION", None)
    boto3.client("sqs", aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret")


@case(BO, "UnknownServiceError: misspelled service name (bug)")
def _():
    boto3.client("s3x", region_name="eu-central-1")
