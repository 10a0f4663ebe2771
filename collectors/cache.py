"""A shared TTL cache with single flight, and a concurrency bound per backend, for collector calls.

Why: an incident room opens the same view on many screens. Without this, N viewers cost N query
sets per refresh (Kiali's graph fails past about ten users, kiali#2139). With it, identical calls
inside one refresh interval cost one backend call, whoever and however many are watching:

- Keys hold the call name and its arguments, with every time in them (`at`, `start`/`end`,
  `start_us`/`end_us`) shifted down to a multiple of Settings.refresh_interval_s. A "now" view
  already arrives as `at=now`, so it lands in the current interval's bucket. The backend is asked
  for the aligned instant, so whoever fills an entry, every viewer gets the same answer.
- Single flight: concurrent identical calls in one process wait on a per-key lock for the first
  one. Across gunicorn workers and replicas sharing Redis, the first takes a short Redis lock
  (SET NX PX, via redis-py's Lock) and the others poll the cache until the value lands.
- The store is flask-caching's SimpleCache in process, or its RedisCache when
  MESHDASH_CACHE_REDIS_URL is set. The backends are used directly (not through `flask_caching.Cache`)
  so a call outside a Flask app context (a thread, a benchmark) works the same.
- Backend failures are cached for Settings.cache_error_ttl_s (2 s), not for the whole interval:
  long enough that fifty viewers of a dead or hanging Prometheus cost one attempt every 2 s instead
  of fifty (each holding a worker until the timeout, and all stampeding the backend as it comes
  back), short enough that recovery shows on the next refresh. Errors that are not BackendError
  (bad input, bugs) are never cached.
- If the store itself fails (Redis down), calls go to the backend directly: a cache outage costs
  queries, never pages. After a failure the store is skipped for STORE_RETRY_S, so a hung Redis
  costs one socket timeout per few seconds, not one per request (each holding a thread).
- Each backend has a BoundedSemaphore of Settings.backend_concurrency calls in flight per process;
  a call that cannot get a slot within the backend's timeout raises BackendTimeout (HTTP 504).
- At most Settings.backend_waiters requests per process wait on backends at once (a miss, its
  single flight, a route read); past that a request is answered 503 at once, so a gunicorn
  worker always keeps a thread for /healthz, /readyz and cached pages while backends hang.
- Each client (ClientQuotas) may start Settings.client_uncached_per_minute backend calls a
  minute; past that its misses answer 429, so one script walking `at` cannot saturate the
  backends. Cache hits and coalesced waits cost nothing. Who the client is comes from the
  request (CLIENT, set per request by app.py), so calls outside a request are not limited.

Values cross a pickle (both stores serialize), so they must be picklable: frozen dataclasses are.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import redis
from flask_caching.backends import BaseCache, RedisCache, SimpleCache

from collectors.backend_status import ready_answer, ready_entry
from mesh.canary.records import CanaryQuery, CanaryTelemetry
from mesh.errors import BackendError, BackendTimeout, Busy, RateLimited
from mesh.series import SeriesQuery, SeriesTelemetry
from mesh.sources import telemetry_staged, traffic_only
from mesh.telemetry_records import GraphQuery, GraphTelemetry
from mesh.traces.records import Trace, TraceQuery
from ops.self_metrics import SATURATED, Metrics

log = logging.getLogger("meshdash.cache")

T = TypeVar("T")
Normalizer = Callable[..., tuple[Any, ...]]  # (cache, *args) -> the args the backend is asked

KEY_VERSION = "5"  # bump when cached record types change shape, so old pickles are not read
SIMPLE_CACHE_ENTRIES = 500
REDIS_SOCKET_TIMEOUT_S = 0.5  # a hung Redis must not hang pages: it only costs a miss
STORE_RETRY_S = 5.0  # after a store failure, how long calls skip it
POLL_S = 0.025  # how often a worker waiting on another worker's call looks for its value

# Time fields of query dataclasses, by unit; the first anchor present decides the shift.
_SECONDS_FIELDS = ("at", "start", "end")
_MICROS_FIELDS = ("start_us", "end_us")
_ANCHORS = ("at", "end", "end_us")


# Who is asking, for ClientQuotas: set by the app for the request being served (app.py).
CLIENT: ContextVar[str | None] = ContextVar("meshdash_client", default=None)
MAX_CLIENTS = 10_000  # quota entries kept; the stalest go first


class ClientQuotas:
    """A token bucket per client: `per_minute` backend calls, refilled evenly over the minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last refill)
        self._guard = threading.Lock()

    def take(self, client: str | None) -> None:
        """Spend one call of `client`'s share; RateLimited when it has none left."""
        if client is None:
            return
        now = self.clock()
        rate = self.per_minute / 60.0
        with self._guard:
            tokens, last = self._buckets.pop(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if len(self._buckets) >= MAX_CLIENTS:
                self._buckets.pop(next(iter(self._buckets)))
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                wait = math.ceil((1 - tokens) / rate)
                raise RateLimited(
                    f"more than {self.per_minute} uncached queries a minute from this client; "
                    f"try again in {wait}s (cached views still answer)",
                    retry_after_s=wait,
                )
            self._buckets[client] = (tokens - 1, now)


def align(obj: Any, interval_s: int) -> Any:
    """obj with its times shifted down to a multiple of interval_s, and namespaces sorted.

    Every time field moves by the same amount, so a range keeps its length and step alignment.
    Anything that is not a dataclass with such fields is returned unchanged.
    """
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return obj
    names = {f.name for f in dataclasses.fields(obj)}
    changes: dict[str, Any] = {}
    anchor = next((a for a in _ANCHORS if a in names), None)
    if anchor is not None:
        micros = anchor in _MICROS_FIELDS
        step = interval_s * 1_000_000 if micros else interval_s
        delta = getattr(obj, anchor) % step
        if delta:
            for name in _MICROS_FIELDS if micros else _SECONDS_FIELDS:
                if name in names:
                    changes[name] = getattr(obj, name) - delta
    if "namespaces" in names:
        ordered = tuple(sorted(obj.namespaces))
        if ordered != obj.namespaces:
            changes["namespaces"] = ordered
    return dataclasses.replace(obj, **changes) if changes else obj


def align_args(cache: SharedCache, *args: Any) -> tuple[Any, ...]:
    """The default normalizer: align every dataclass argument to the refresh interval."""
    return tuple(align(a, cache.interval_s) for a in args)


def align_end_us(cache: SharedCache, end_us: int, lookback_s: int) -> tuple[Any, ...]:
    """For calls taking (end_us, lookback_s) positionally, such as Jaeger dependencies."""
    step = cache.interval_s * 1_000_000
    return (end_us - end_us % step, lookback_s)


def as_is(cache: SharedCache, *args: Any) -> tuple[Any, ...]:
    """For calls whose arguments hold no time (service lists, a trace by id)."""
    return args


class BackendLimiter:
    """At most `limit` calls in flight per backend name in this process; every call is timed."""

    def __init__(
        self,
        limit: int,
        metrics: Metrics,
        wait_s: Mapping[str, float] | float = 10.0,
        waiters: int = 1_000_000,
    ) -> None:
        self.limit = limit
        self.metrics = metrics
        self._wait = wait_s
        self._sems: dict[str, threading.BoundedSemaphore] = {}
        self._guard = threading.Lock()
        self.waiters = waiters
        self._waiting = threading.BoundedSemaphore(waiters)

    @contextmanager
    def waiting(self, backend: str) -> Iterator[None]:
        """One of the process's `waiters` slots for a request about to wait on a backend; Busy
        (503) at once when none is free, rather than queueing the request behind the others."""
        if not self._waiting.acquire(blocking=False):
            raise Busy(
                backend,
                f"{self.waiters} requests are already waiting on backends in this process; "
                "try again shortly",
            )
        try:
            yield
        finally:
            self._waiting.release()

    def wait_s(self, backend: str) -> float:
        if isinstance(self._wait, Mapping):
            return float(self._wait.get(backend, max(self._wait.values(), default=10.0)))
        return float(self._wait)

    def _sem(self, backend: str) -> threading.BoundedSemaphore:
        with self._guard:
            sem = self._sems.get(backend)
            if sem is None:
                sem = self._sems[backend] = threading.BoundedSemaphore(self.limit)
            return sem

    def run(self, backend: str, call: str, fn: Callable[[], T]) -> T:
        """fn() inside the backend's bound; BackendTimeout when no slot frees up in time."""
        sem = self._sem(backend)
        wait = self.wait_s(backend)
        if not sem.acquire(timeout=wait):
            self.metrics.observe_backend(backend, wait, SATURATED, call)
            raise BackendTimeout(
                backend,
                f"{self.limit} requests already in flight and none finished within {wait:g}s",
            )
        try:
            with self.metrics.time_backend(backend, call):
                return fn()
        finally:
            sem.release()


@dataclasses.dataclass(frozen=True, slots=True)
class _Value:
    expires: float
    value: Any


@dataclasses.dataclass(frozen=True, slots=True)
class _Failure:
    """A BackendError, stored by its parts: exceptions with custom __init__ do not unpickle."""

    expires: float
    kind: type[BackendError]
    backend: str
    cause: str

    def error(self) -> BackendError:
        return self.kind(self.backend, self.cause)


class BoundedSimpleCache(SimpleCache):
    """flask-caching's in-process SimpleCache bounded by bytes as well as by entries.

    The entry count alone let a few huge answers (a 200,000-series graph, a 100,000-span trace)
    take the worker's memory. Values are stored pickled, so their size is known: a set makes
    room for the new value first (expired entries, then the ones expiring soonest), and a value
    larger than the whole bound is not cached at all.
    """

    def __init__(self, *, max_bytes: int, threshold: int, default_timeout: int) -> None:
        super().__init__(threshold=threshold, default_timeout=default_timeout)
        self.max_bytes = max_bytes
        self._incoming = 0  # the size of the value being set, while room is made for it

    def size_bytes(self) -> int:
        with self._lock:
            return sum(len(value) for _, value in self._cache.values())

    def _over_threshold(self) -> bool:
        return (
            len(self._cache) > self._threshold
            or self.size_bytes() + self._incoming > self.max_bytes
        )

    def set(self, key: str, value: Any, timeout: int | None = None) -> bool:
        data = self.serializer.dumps(value)
        with self._lock:
            self._cache.pop(key, None)
            if len(data) > self.max_bytes:
                return False
            expires = self._normalize_timeout(timeout)
            self._incoming = len(data)
            try:
                self._prune()
            finally:
                self._incoming = 0
            self._cache[key] = (expires, data)
            return True

    def add(self, key: str, value: Any, timeout: int | None = None) -> bool:
        with self._lock:
            return False if self.has(key) else self.set(key, value, timeout)


class CacheSettings(Protocol):
    """The settings the cache reads (wiring.settings.Settings has them): a Protocol, so the
    sources do not import the front door above them."""

    prometheus_timeout_s: float
    jaeger_timeout_s: float
    kube_timeout_s: float
    backend_concurrency: int
    backend_waiters: int
    refresh_interval_s: int
    cache_redis_url: str | None
    cache_max_bytes: int


class SharedCache:
    """The store, the single-flight locks, the backend limiter and the metrics they report to."""

    def __init__(
        self,
        store: BaseCache,
        *,
        metrics: Metrics,
        limiter: BackendLimiter,
        interval_s: int,
        error_ttl_s: float = 2.0,
        wait_s: float = 30.0,
        redis: Any = None,
        clock: Callable[[], float] = time.time,
        quotas: ClientQuotas | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.limiter = limiter
        self.interval_s = interval_s
        self.error_ttl_s = error_ttl_s
        self.wait_s = wait_s  # longest wait for an identical call in flight (here or elsewhere)
        self.redis = redis
        self.clock = clock
        self.quotas = quotas
        self._locks: dict[str, list[Any]] = {}  # key -> [lock, number of users]
        self._guard = threading.Lock()
        self._store_failing = False
        self._store_skip_until = 0.0  # time.monotonic() before which the store is not asked

    @classmethod
    def from_settings(cls, settings: CacheSettings, metrics: Metrics) -> SharedCache:
        """SimpleCache in process, or RedisCache when settings.cache_redis_url is set."""
        timeouts = {
            "prometheus": settings.prometheus_timeout_s,
            "jaeger": settings.jaeger_timeout_s,
            "kubernetes": settings.kube_timeout_s,
        }
        limiter = BackendLimiter(
            settings.backend_concurrency, metrics, timeouts, waiters=settings.backend_waiters
        )
        # A waiter may queue for a slot and then wait for the call itself.
        wait_s = 2 * max(timeouts.values()) + 1
        ttl = settings.refresh_interval_s
        if settings.cache_redis_url:
            import redis

            client = redis.Redis.from_url(
                settings.cache_redis_url,
                socket_timeout=REDIS_SOCKET_TIMEOUT_S,
                socket_connect_timeout=REDIS_SOCKET_TIMEOUT_S,
                health_check_interval=30,
            )
            store: BaseCache = RedisCache(client, default_timeout=ttl, key_prefix="meshdash:")
        else:
            client = None
            store = BoundedSimpleCache(
                max_bytes=settings.cache_max_bytes,
                threshold=SIMPLE_CACHE_ENTRIES,
                default_timeout=ttl,
            )
        return cls(
            store,
            metrics=metrics,
            limiter=limiter,
            interval_s=settings.refresh_interval_s,
            error_ttl_s=settings.cache_error_ttl_s,
            wait_s=wait_s,
            redis=client,
            quotas=ClientQuotas(settings.client_uncached_per_minute),
        )

    # --- keys ----------------------------------------------------------------------------------
    def bucket(self, at: float) -> float:
        """`at` shifted down to the start of its refresh interval."""
        return at - at % self.interval_s

    @staticmethod
    def key(scope: str, call: str, args: tuple[Any, ...]) -> str:
        """Readable head, digest tail: dataclass reprs are deterministic (fields, enums, floats)."""
        digest = hashlib.blake2b(repr(args).encode(), digest_size=16).hexdigest()
        return f"v{KEY_VERSION}:{scope}:{call}:{digest}"

    # --- the call ------------------------------------------------------------------------------
    def call(
        self,
        call: str,
        args: tuple[Any, ...],
        fn: Callable[..., T],
        *,
        backend: str,
        scope: str | None = None,
        ttl_s: float | None = None,
    ) -> T:
        """fn(*args) through the cache: one backend call per key per TTL, whoever asks.

        `args` must already be normalized (aligned): they are both the key and what fn gets.
        """
        key = self.key(scope or backend, call, args)
        found = self._get(key)
        if found is not None:
            self.metrics.count_cache(call, hit=True)
            return self._unwrap(found)
        with self.limiter.waiting(backend):
            return self._miss(key, call, args, fn, backend, ttl_s)

    def _miss(
        self,
        key: str,
        call: str,
        args: tuple[Any, ...],
        fn: Callable[..., T],
        backend: str,
        ttl_s: float | None,
    ) -> T:
        with self._local(key) as acquired:
            if not acquired:
                raise BackendTimeout(
                    backend, f"an identical {call} call is still running after {self.wait_s:g}s"
                )
            found = self._get(key)
            if found is not None:
                self.metrics.count_cache(call, hit=True, coalesced=True)
                return self._unwrap(found)
            with self._cluster_lock(key) as leader:
                if not leader:
                    found = self._wait_elsewhere(key)
                    if found is not None:
                        self.metrics.count_cache(call, hit=True, coalesced=True)
                        return self._unwrap(found)
                return self._fill(key, call, backend, ttl_s, lambda: fn(*args))

    def memo(
        self,
        call: str,
        args: tuple[Any, ...],
        fn: Callable[[], T],
        ttl_of: Callable[[T], float | None] | None = None,
    ) -> T:
        """fn() once per key and refresh interval, for work derived from cached backend answers
        (a view built from telemetry): N viewers of one view then also cost one build, not only
        one query set. Under load that build, not the backend, is what each request pays.

        `args` (dataclasses aligned like collector calls) make the key and must determine fn's
        result. fn's own backend calls take their bound and cache their failures, so nothing is
        bounded or error-cached here; concurrent identical builds in a process wait for one.
        `ttl_of(value)` may shorten how long a value is kept (None: the interval): a view drawn
        without one cluster's part is kept only as long as an error, so recovery shows at once.
        """
        key = self.key("view", call, tuple(align(a, self.interval_s) for a in args))
        found = self._get(key)
        if isinstance(found, _Value):
            self.metrics.count_cache(call, hit=True)
            return found.value
        with self._local(key) as acquired:
            found = self._get(key) if acquired else None
            if isinstance(found, _Value):
                self.metrics.count_cache(call, hit=True, coalesced=True)
                return found.value
            self.metrics.count_cache(call, hit=False)
            value = fn()
            ttl = ttl_of(value) if ttl_of is not None else None
            ttl = self.interval_s if ttl is None else min(ttl, self.interval_s)
            if ttl > 0:
                self._set(key, _Value(self.clock() + ttl, value), ttl)
            return value

    def _fill(
        self, key: str, call: str, backend: str, ttl_s: float | None, fn: Callable[[], T]
    ) -> T:
        if self.quotas is not None:
            self.quotas.take(CLIENT.get())
        self.metrics.count_cache(call, hit=False)
        try:
            value = self.limiter.run(backend, call, fn)
        except BackendError as exc:
            if self.error_ttl_s > 0:
                failure = _Failure(
                    self.clock() + self.error_ttl_s, type(exc), exc.backend, exc.cause
                )
                self._set(key, failure, self.error_ttl_s)
            raise
        ttl = self.interval_s if ttl_s is None else ttl_s
        self._set(key, _Value(self.clock() + ttl, value), ttl)
        return value

    @staticmethod
    def _unwrap(found: _Value | _Failure) -> Any:
        if isinstance(found, _Failure):
            raise found.error()
        return found.value

    # --- the store, which may fail ----------------------------------------------------------------
    def _store_skipped(self) -> bool:
        return self._store_failing and time.monotonic() < self._store_skip_until

    def _get(self, key: str) -> _Value | _Failure | None:
        if self._store_skipped():
            return None
        try:
            found = self.store.get(key)
        except Exception as exc:  # Redis down or an unreadable entry: a miss, never an error page
            self._store_failed("get", exc)
            return None
        self._store_ok()
        if isinstance(found, _Value | _Failure) and self.clock() < found.expires:
            return found
        return None

    def _set(self, key: str, entry: _Value | _Failure, ttl_s: float) -> None:
        if self._store_skipped():
            return
        try:
            # The store's own expiry is whole seconds; the entry's own `expires` is exact.
            self.store.set(key, entry, timeout=math.ceil(ttl_s) + 1)
        except Exception as exc:
            self._store_failed("set", exc)

    def _store_failed(self, operation: str, exc: Exception) -> None:
        self.metrics.count_cache_error(operation)
        self._store_skip_until = time.monotonic() + STORE_RETRY_S
        if not self._store_failing:
            self._store_failing = True
            log.warning(
                "cache store failing; calling backends directly",
                extra={"operation": operation, "error": type(exc).__name__},
            )

    def _store_ok(self) -> None:
        if self._store_failing:
            self._store_failing = False
            log.info("cache store answering again")

    # --- single flight ----------------------------------------------------------------------------
    @contextmanager
    def _local(self, key: str) -> Iterator[bool]:
        """The per-key lock of this process; the entry goes away with its last user."""
        with self._guard:
            entry = self._locks.get(key)
            if entry is None:
                entry = self._locks[key] = [threading.Lock(), 0]
            entry[1] += 1
        acquired = entry[0].acquire(timeout=self.wait_s)
        try:
            yield acquired
        finally:
            if acquired:
                entry[0].release()
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[key]

    @contextmanager
    def _cluster_lock(self, key: str) -> Iterator[bool]:
        """True when this process should call the backend; Redis decides between workers."""
        if self.redis is None or self._store_skipped():
            yield True
            return
        lock = self.redis.lock(f"meshdash:lock:{key}", timeout=self.wait_s, blocking=False)
        try:
            leader = bool(lock.acquire(blocking=False))
        except Exception as exc:  # Redis down: behave as a lone process
            self._store_failed("lock", exc)
            yield True
            return
        try:
            yield leader
        finally:
            if leader:
                try:
                    lock.release()
                except Exception:  # expired or Redis gone: the TTL cleans it up
                    log.debug("cache lock already gone", extra={"key": key})

    def _wait_elsewhere(self, key: str) -> _Value | _Failure | None:
        """Poll for the value another worker is computing; None if it gave up or vanished."""
        name = f"meshdash:lock:{key}"
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            found = self._get(key)
            if found is not None:
                return found
            try:
                held = bool(self.redis.exists(name))
            except Exception as exc:
                self._store_failed("lock", exc)
                return None
            if not held:
                return self._get(key)
            time.sleep(POLL_S)
        return None

    # --- readiness ---------------------------------------------------------------------------------
    def ready(self) -> dict[str, Any]:
        """Whether the shared store answers; never required, since calls survive without it."""
        if self.redis is None:  # nothing to reach over a network, nothing to authenticate to
            return ready_entry(True, "in-process cache", reachable=True)
        where = _redis_address(self.redis)
        try:
            info = self.redis.info("server")
        except Exception as exc:
            refused = isinstance(exc, redis.exceptions.AuthenticationError) or (
                isinstance(exc, redis.exceptions.ResponseError) and "NOAUTH" in str(exc)
            )
            reached = refused or not isinstance(exc, redis.exceptions.ConnectionError)
            detail = f"redis at {where}: {type(exc).__name__}"
            return ready_entry(
                False, detail, reachable=reached, authenticated=False if refused else None
            )
        return ready_answer(f"redis at {where}", info.get("redis_version"))


def _redis_address(client: Any) -> str:
    """host:port/db of a redis client, never its password."""
    kw = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {}) or {}
    if "path" in kw:
        return str(kw["path"])
    return f"{kw.get('host', '?')}:{kw.get('port', '?')}/{kw.get('db', 0)}"


def redacted_url(url: str) -> str:
    """A URL without its user info, for logs and /readyz."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return parts._replace(netloc=f"{host}{port}").geturl()


class CachedSource:
    """Any source, with some methods through the shared cache and some only bounded.

    `cached` maps a method name to a normalizer `(cache, *args) -> args` (usually align_args);
    `bounded` names methods that must not be cached (route reads before a write) but still count
    against the backend's concurrency bound and its metrics. Everything else, `ready()` included,
    passes through to the inner source untouched, so Protocol checks see what the inner offers.
    """

    def __init__(
        self,
        inner: Any,
        cache: SharedCache,
        *,
        cached: Mapping[str, Normalizer] | None = None,
        bounded: Iterable[str] = (),
        backend: str | None = None,
        scope: str | None = None,
        ttl_s: float | None = None,
    ) -> None:
        self.inner = inner
        self.cache = cache
        self.name: str = inner.name
        self.backend = backend or inner.name
        self.scope = scope or self.backend
        self.ttl_s = ttl_s
        self._cached = dict(cached or {})
        self._bounded = frozenset(bounded)

    def __getattr__(self, attr: str) -> Any:
        # Only called for attributes not found on the wrapper itself.
        if attr.startswith("__") or attr in ("inner", "_cached", "_bounded"):
            raise AttributeError(attr)
        target = getattr(self.inner, attr)
        if attr in self._cached:
            return functools.partial(self._call_cached, attr, target)
        if attr in self._bounded:
            return functools.partial(self._call_bounded, attr, target)
        return target

    def _call_cached(self, call: str, target: Callable[..., T], *args: Any) -> T:
        normalized = self._cached[call](self.cache, *args)
        return self.cache.call(
            call, normalized, target, backend=self.backend, scope=self.scope, ttl_s=self.ttl_s
        )

    def _call_bounded(self, call: str, target: Callable[..., T], *args: Any, **kw: Any) -> T:
        with self.cache.limiter.waiting(self.backend):
            return self.cache.limiter.run(self.backend, call, lambda: target(*args, **kw))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"


class CachedTelemetry(CachedSource):
    """A TelemetrySource through the shared cache.

    The backend is asked for the aligned instant: GraphTelemetry.query.at is the interval start,
    which is what the numbers describe (views should show that `at`, not the request's).
    """

    def __init__(self, inner: Any, cache: SharedCache, **kw: Any) -> None:
        super().__init__(inner, cache, cached={"graph_telemetry": align_args}, **kw)

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        return self._call_cached("graph_telemetry", self.inner.graph_telemetry, query)

    def graph_telemetry_staged(
        self, query: GraphQuery, first: Callable[[GraphTelemetry], T]
    ) -> tuple[GraphTelemetry, T]:
        """The cached telemetry and first(its traffic): run while the inner source still reads
        the latencies when this call is the one that asks it, else on the cached answer. The
        backend's timing (metrics) then spans `first` too, where `first` outlasts the wait."""
        early: list[T] = []

        def fetch(aligned: GraphQuery) -> GraphTelemetry:
            telemetry, out = telemetry_staged(self.inner, aligned, first)
            early.append(out)
            return telemetry

        telemetry = self._call_cached("graph_telemetry", fetch, query)
        if early:
            return telemetry, early[0]
        return telemetry, first(traffic_only(telemetry))


class CachedSeries(CachedSource):
    """A SeriesSource through the shared cache: start and end shift together to the interval."""

    def __init__(self, inner: Any, cache: SharedCache, **kw: Any) -> None:
        super().__init__(inner, cache, cached={"series_telemetry": align_args}, **kw)

    def series_telemetry(self, query: SeriesQuery) -> SeriesTelemetry:
        return self._call_cached("series_telemetry", self.inner.series_telemetry, query)


class CachedCanary(CachedSource):
    """A CanarySource through the shared cache, keyed on the aligned `at`."""

    def __init__(self, inner: Any, cache: SharedCache, **kw: Any) -> None:
        super().__init__(inner, cache, cached={"canary_telemetry": align_args}, **kw)

    def canary_telemetry(self, query: CanaryQuery) -> CanaryTelemetry:
        return self._call_cached("canary_telemetry", self.inner.canary_telemetry, query)


class CachedTraces(CachedSource):
    """A TraceSource through the shared cache: searches by their aligned window, traces by id.

    Explicit methods (not only __getattr__) so Protocol checks see them on any Python version.
    """

    def __init__(self, inner: Any, cache: SharedCache, **kw: Any) -> None:
        cached: dict[str, Normalizer] = {
            "services": as_is,
            "operations": as_is,
            "find_traces": align_args,
            "get_trace": as_is,
            "dependencies": align_end_us,
        }
        super().__init__(inner, cache, cached=cached, **kw)

    def services(self) -> tuple[str, ...]:
        return self._call_cached("services", self.inner.services)

    def operations(self, service: str) -> tuple[str, ...]:
        return self._call_cached("operations", self.inner.operations, service)

    def find_traces(self, query: TraceQuery) -> list[Trace]:
        return self._call_cached("find_traces", self.inner.find_traces, query)

    def get_trace(self, trace_id: str) -> Trace:
        return self._call_cached("get_trace", self.inner.get_trace, trace_id)


class BoundedRoutes(CachedSource):
    """A RouteStore whose backend calls are bounded and timed but never cached.

    Never cached: a write must start from the object's current resourceVersion, and the page
    must show a change as soon as it is applied.
    """

    CALLS: tuple[str, ...] = ("list_services", "get_service", "write", "snapshot")

    def __init__(self, inner: Any, cache: SharedCache, **kw: Any) -> None:
        super().__init__(inner, cache, bounded=self.CALLS, **kw)
