"""The namespaces a picker offers: those discovered (traffic in the last 5 minutes, and every
namespace Kubernetes knows with --kube; views/inventory.discover_namespaces), plus the chosen
and the default ones, so a namespace typed into the URL stays visible and is judged on the page.
Discovery failing leaves the chosen and the defaults: the page's own banner says why."""

from __future__ import annotations

from collections.abc import Iterable

from mesh.errors import MeshdashError
from views.inventory import discover_namespaces
from wiring.services import Services


def namespace_options(services: Services, chosen: Iterable[str]) -> list[str]:
    try:
        found = discover_namespaces(services).names
    except MeshdashError:
        found = ()
    return sorted({*found, *chosen, *services.settings.default_namespaces})
