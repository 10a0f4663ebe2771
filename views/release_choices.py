"""What a release review can compare: the services worth reviewing and a service's versions.

From the routes when there are some (a service with two or more versions can be released);
without routing (no --kube), from the traffic: every service seen, and the versions that
served it in the last hour weighted by their share.
"""

from __future__ import annotations

import contextlib

from mesh.errors import MeshdashError
from mesh.releases.eligibility import releasable_services
from mesh.releases.roles import split_weights, weights_from_shares
from mesh.series import Target
from views.history import list_targets, metrics_view, parse_metrics_params
from views.routes import route_detail, routes_list
from wiring.services import Services

TRAFFIC_LOOKBACK_S = 600  # services with traffic in the last 10 minutes, without routes
SHARES_WINDOW = "1h"  # versions and their shares, without routes


def review_services(services: Services, namespace: str) -> list[str]:
    """Services with two or more versions (from the routes), else every service with traffic;
    none when neither answers."""
    with contextlib.suppress(MeshdashError):
        body = routes_list(services, namespace)
        several = [s["service"] for s in releasable_services(body["services"])]
        if several:
            return several
    with contextlib.suppress(MeshdashError):
        return list_targets(services, namespace, Target.SERVICE, TRAFFIC_LOOKBACK_S)
    return []


def service_versions(
    services: Services, namespace: str, service: str
) -> tuple[list[str], dict[str, int]]:
    """The service's versions and current weights, from its routes; without routing, the
    versions that served it in the last hour, weighted by their share."""
    try:
        detail = route_detail(services, namespace, service)
    except MeshdashError:
        args = {"namespace": namespace, "service": service, "window": SHARES_WINDOW}
        body = metrics_view(services, parse_metrics_params(args))
        shares = {v: body["summary"].get(v, {}).get("share") for v in body["versions"]}
        return list(shares), weights_from_shares(shares)
    weights = split_weights(detail.get("weights", {}), detail.get("versions") or [])
    return list(weights), weights
