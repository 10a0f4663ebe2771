import pytest
from werkzeug.datastructures import MultiDict

from mesh.errors import BadRequest
from mesh.telemetry_records import GraphView
from views.graph import parse_graph_params


def test_defaults():
    p = parse_graph_params(MultiDict(), ("bookinfo",))
    assert p.namespaces == ("bookinfo",)
    assert p.view is GraphView.WORKLOAD
    assert (p.window, p.window_s, p.at) == ("5m", 300, None)


def test_repeated_and_comma_separated_namespaces_are_merged_in_order():
    args = MultiDict([("namespace", "shop"), ("namespace", "data,shop"), ("graph", "app")])
    p = parse_graph_params(args, ("bookinfo",))
    assert p.namespaces == ("shop", "data")
    assert p.view is GraphView.APP


def test_window_is_normalised():
    p = parse_graph_params(MultiDict({"window": "60m"}), ("bookinfo",))
    assert (p.window, p.window_s) == ("1h", 3600)


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("namespace", 'bookinfo"} or vector(1)', "namespace"),
        ("namespace", ".*", "namespace"),
        ("graph", "pods", "graph"),
        ("window", "5mins", "window"),
        ("at", "yesterday", "at"),
    ],
)
def test_bad_parameters_name_the_field(key, value, field):
    with pytest.raises(BadRequest) as err:
        parse_graph_params(MultiDict({key: value}), ("bookinfo",))
    assert err.value.field == field


def test_dash_query_dicts_work_too():
    p = parse_graph_params({"namespace": ["a", "b"], "window": "10m"}, ("bookinfo",))
    assert p.namespaces == ("a", "b")
    assert p.window_s == 600
