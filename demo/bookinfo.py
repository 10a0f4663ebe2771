"""Istio's Bookinfo sample as a MeshSpec: the mesh a new user sees first.

istio-ingressgateway (istio-system) -> productpage-v1 -> details-v1 and reviews-v1/v2/v3;
reviews-v2 and reviews-v3 call ratings-v1, reviews-v1 does not (it shows no stars).

The demo's default reviews split is v1 80 / v2 10 / v3 10 (DEFAULT_REVIEWS_SPLIT), so the
first graph already shows a canary in progress and ratings traffic that follows v2+v3 only.
Latencies are server times (lognormal medians): details 3 ms, ratings 2 ms, reviews-v1 8 ms,
reviews-v2 18 ms and reviews-v3 22 ms (both include their ratings call), productpage 35 ms.
Errors: 1 % 404s from the ingress (client errors, still healthy by Kiali's rules) and a little
5xx noise on ratings only (0.5 %), answered gracefully by its callers (as Bookinfo's reviews
shows "ratings unavailable"), so the first screen is green with one amber hop to find. An outage
is passed on (Call.propagate): reviews answers 503 when a failing ratings (TrafficState.set_fault)
fails it, productpage when reviews or details does, as a page that cannot render does; the chain
turns red and "Why is it red?" walks it back to ratings.
Security: details-v1 takes its calls in plain text (its destination reports say
connection_security_policy="none"), the edge a review before STRICT mTLS must find.
Ambient (`ambient=True`): no sidecars; the namespace's waypoint proxy (the workload `waypoint`,
Istio's default name) reports the L7 requests, and ztunnel reports the L4 connections to and from
the waypoint's own pod (AMBIENT_WAYPOINT_TCP), which the topology draws only when asked to show
waypoints.
"""

from __future__ import annotations

from collections.abc import Mapping

from demo.spec import Call, ErrorModel, LatencyModel, MeshSpec, Workload

NAMESPACE = "bookinfo"
DEFAULT_REVIEWS_SPLIT: dict[str, int] = {"v1": 80, "v2": 10, "v3": 10}
DEFAULT_RPS = 20.0
CLUSTER = "Kubernetes"  # Istio's default cluster id
# reviews retries ratings (Bookinfo's VirtualService does): its everyday 503s are URX.
RATINGS_NOISE = ErrorModel(http_5xx=0.005, flags_5xx="URX")
WAYPOINT = "waypoint"  # `istioctl waypoint apply`'s default name (mesh/graph/waypoints.py)
# ztunnel's L4 to and from the waypoint in ambient mode: (caller, callee service, connections/s,
# bytes/s sent, bytes/s received), about 600 B a request each way over pooled HBONE connections.
AMBIENT_WAYPOINT_TCP: tuple[tuple[str, str, float, float, float], ...] = (
    ("productpage-v1", WAYPOINT, 0.5, 24000.0, 48000.0),
    (WAYPOINT, "details", 0.2, 12000.0, 9000.0),
    (WAYPOINT, "reviews", 0.2, 12000.0, 15000.0),
    (WAYPOINT, "ratings", 0.1, 2400.0, 1800.0),
)


def bookinfo_spec(
    namespace: str = NAMESPACE,
    reviews_split: Mapping[str, int] | None = None,
    rps: float = DEFAULT_RPS,
    ambient: bool = False,
) -> MeshSpec:
    """Bookinfo in `namespace`, entered through the ingress gateway at `rps` requests/s;
    `ambient`: the namespace runs in Istio's ambient mode (waypoint-reported L7 telemetry)."""
    split = dict(DEFAULT_REVIEWS_SPLIT if reviews_split is None else reviews_split)
    ns = namespace

    def wl(
        app: str, version: str, median_ms: float, sigma: float = 0.45, mtls: bool = True
    ) -> Workload:
        return Workload(
            namespace=ns,
            name=f"{app}-{version}",
            app=app,
            version=version,
            service=app,
            cluster=CLUSTER,
            latency=LatencyModel(median_ms, sigma),
            service_account=f"bookinfo-{app}",
            mtls=mtls,
        )

    gateway = Workload(
        namespace="istio-system",
        name="istio-ingressgateway",
        app="istio-ingressgateway",
        version="latest",
        service="",
        cluster=CLUSTER,
        service_account="istio-ingressgateway-service-account",
    )
    workloads = (
        gateway,
        wl("productpage", "v1", 35.0, 0.5),
        wl("details", "v1", 3.0, 0.4, mtls=False),
        wl("reviews", "v1", 8.0),
        wl("reviews", "v2", 18.0),
        wl("reviews", "v3", 22.0),
        wl("ratings", "v1", 2.0, 0.4),
    )
    pp = ("istio-system", "istio-ingressgateway")
    calls = (
        Call(*pp, ns, "productpage", rps=rps, errors=ErrorModel(http_4xx=0.01)),
        Call(ns, "productpage-v1", ns, "details", per_request=1.0, propagate=1.0),
        Call(ns, "productpage-v1", ns, "reviews", per_request=1.0, propagate=1.0),
        Call(ns, "reviews-v2", ns, "ratings", per_request=1.0, errors=RATINGS_NOISE, propagate=1.0),
        Call(ns, "reviews-v3", ns, "ratings", per_request=1.0, errors=RATINGS_NOISE, propagate=1.0),
    )
    if ambient:
        waypoint = Workload(
            namespace=ns,
            name=WAYPOINT,
            app=WAYPOINT,
            version="latest",
            service=WAYPOINT,
            cluster=CLUSTER,
            latency=LatencyModel(1.0, 0.3),
            service_account=WAYPOINT,
        )
        workloads = (*workloads, waypoint)
        calls = (
            *calls,
            *(
                Call(ns, src, ns, dst, protocol="tcp", rps=c, sent_bps=tx, received_bps=rx)
                for src, dst, c, tx, rx in AMBIENT_WAYPOINT_TCP
            ),
        )
    return MeshSpec(
        workloads=workloads,
        calls=calls,
        splits=((ns, "reviews", tuple(sorted(split.items()))),),
        ambient_namespaces=(ns,) if ambient else (),
    )
