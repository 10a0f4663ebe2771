"""views/params.py: the one parser of each parameter every view shares, with the field named."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from mesh.errors import BadRequest
from mesh.validate import TimeWindow
from views import params


def field_of(parse, args, *rest):
    with pytest.raises(BadRequest) as caught:
        parse(MultiDict(args), *rest)
    return caught.value.field, caught.value.message


def test_one_namespace_falls_back_to_the_first_configured_one():
    assert params.namespace_of(MultiDict({"namespace": "shop"}), ("bookinfo",)) == "shop"
    assert params.namespace_of(MultiDict(), ("bookinfo", "shop")) == "bookinfo"
    assert field_of(params.namespace_of, {}) == ("namespace", "namespace is required")
    assert field_of(params.namespace_of, {"namespace": "Shop"})[0] == "namespace"


def test_a_service_is_required_and_must_be_a_kubernetes_name():
    assert params.service_of(MultiDict({"service": "reviews"})) == "reviews"
    assert field_of(params.service_of, {}) == ("service", "service is required")
    assert field_of(params.service_of, {"service": 'a"}'})[0] == "service"


def test_a_namespace_list_is_deduplicated_bounded_and_never_empty():
    args = MultiDict([("namespace", "b"), ("namespace", "a,b")])
    assert params.namespaces_of(args) == ("b", "a")
    assert params.namespaces_of(MultiDict(), ("shop",)) == ("shop",)
    assert field_of(params.namespaces_of, {}) == ("namespace", "choose at least one namespace")
    many = [("namespace", f"ns{i}") for i in range(params.MAX_NAMESPACES + 1)]
    assert field_of(params.namespaces_of, many) == ("namespace", "at most 100 namespaces at once")


def test_a_window_is_parsed_once_with_its_own_field_name():
    assert params.window_of(MultiDict({"window": "120s"}), "10m") == TimeWindow("2m", 120)
    assert params.window_of(MultiDict(), "10m") == TimeWindow("10m", 600)
    assert field_of(params.window_of, {"lookback": "soon"}, "1h", "lookback")[0] == "lookback"


def test_a_time_is_parsed_without_a_clock_and_absent_means_now():
    assert params.instant_of(MultiDict({"at": "1790000000"})) == 1_790_000_000.0
    assert params.instant_of(MultiDict()) is None
    assert field_of(params.instant_of, {"end": "yesterday"}, "end") == (
        "end",
        "end 'yesterday' is not a UNIX time in seconds",
    )
    assert field_of(params.instant_of, {"at": "100"})[0] == "at"  # before 2000
    # the far future is refused against the service's clock, once, when the view runs
    assert params.instant_of(MultiDict({"at": "5000000000"})) == 5_000_000_000.0
