"""redis-py against a closed port, an unresolvable host and a real local redis-server."""
import redis

from corpus_env import CLOSED_PORT, EMAIL, HOST, LOOP, QUERY, REDIS_PORT, SLUG, TITLE, case

RD = "redis"
RS = ["redis"]


def client(**kw):
    params = dict(host=LOOP, port=REDIS_PORT, password="redis-password", socket_timeout=2,
                  socket_connect_timeout=2)
    params.update(kw)
    return redis.Redis(**params)


@case(RD, "ConnectionError: connection refused on a closed port")
def _():
    redis.Redis(host=LOOP, port=CLOSED_PORT, socket_connect_timeout=2).get("session:abc")


@case(RD, "ConnectionError: unresolvable host")
def _():
    redis.Redis(host=HOST, port=6379, socket_connect_timeout=2).ping()


@case(RD, "ConnectionError: from_url with a password, connection refused")
def _():
    redis.Redis.from_url("redis://:s3cret-%s@%s:%d/0" % (SLUG, LOOP, CLOSED_PORT)).ping()


@case(RD, "AuthenticationError: wrong password", needs=RS)
def _():
    client(password="wrong-password").ping()


@case(RD, "AuthenticationError: no password given", needs=RS)
def _():
    client(password=None).get("session:abc")


@case(RD, "ResponseError: WRONGTYPE on a per-user key", needs=RS)
def _():
    r = client()
    key = "user:%s:recent" % EMAIL
    r.delete(key)
    r.rpush(key, "doc:1")
    r.get(key)


@case(RD, "ResponseError: INCR of a non-integer value", needs=RS)
def _():
    r = client()
    r.set("quota:%s" % SLUG, "unlimited")
    r.incr("quota:%s" % SLUG)


@case(RD, "ResponseError: unknown command with the key as argument", needs=RS)
def _():
    client().execute_command("HSETT", "session:%s" % EMAIL, "q", QUERY)


@case(RD, "ResponseError: wrong number of arguments", needs=RS)
def _():
    client().execute_command("SET", "search:last:%s" % SLUG)


@case(RD, "ResponseError: syntax error in SET options", needs=RS)
def _():
    client().execute_command("SET", "doc:%s" % TITLE, "1", "EXX", "10")


@case(RD, "ResponseError: invalid expire time", needs=RS)
def _():
    client().set("session:abc", "1", ex=-5)


@case(RD, "ResponseError: NOSCRIPT for an unloaded Lua script", needs=RS)
def _():
    client().evalsha("a" * 40, 1, "rate:%s" % SLUG)


@case(RD, "ResponseError: Lua script error", needs=RS)
def _():
    client().eval("return redis.call('INCR', KEYS[1]) + ARGV[1]", 1, "rate:%s" % SLUG, QUERY)


@case(RD, "DataError: value of an unsupported type (bug)", needs=RS)
def _():
    client().set("profile:%s" % SLUG, {"email": EMAIL})


@case(RD, "TimeoutError: BLPOP longer than the socket timeout", needs=RS)
def _():
    client(socket_timeout=0.2).blpop("jobs:exports", timeout=5)


@case(RD, "LockNotOwnedError: releasing a lock that expired", needs=RS)
def _():
    r = client()
    lock = r.lock("export:%s" % SLUG, timeout=10)
    lock.acquire()
    r.delete("export:%s" % SLUG)
    lock.release()


@case(RD, "LockNotOwnedError: extending a lock taken by another worker", needs=RS)
def _():
    r = client()
    lock = r.lock("export-lock:%s" % SLUG, timeout=10)
    lock.acquire()
    r.set("export-lock:%s" % SLUG, "another-worker-token")
    lock.extend(5)


@case(RD, "WatchError: key changed during a transaction", needs=RS)
def _():
    r = client()
    with r.pipeline() as p:
        p.watch("balance:%s" % SLUG)
        client().set("balance:%s" % SLUG, "10")
        p.multi()
        p.set("balance:%s" % SLUG, "20")
        p.execute()
