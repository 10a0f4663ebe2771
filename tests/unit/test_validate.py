import pytest

from mesh import validate
from mesh.errors import BadRequest


@pytest.mark.parametrize("name", ["bookinfo", "a", "istio-system", "x" * 63, "ns-1"])
def test_valid_namespaces_pass(name):
    assert validate.namespace(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "Bookinfo", "-a", "a-", "a_b", "x" * 64, 'a"}', "a|b", ".*", "ns\n", "a b", "ns.sub"],
)
def test_namespaces_that_could_break_promql_are_refused(name):
    with pytest.raises(BadRequest) as err:
        validate.namespace(name)
    assert err.value.field == "namespace"


def test_workload_names_may_hold_dots_but_not_quotes():
    assert validate.workload_name("web.v1") == "web.v1"
    with pytest.raises(BadRequest):
        validate.workload_name('web"}')


@pytest.mark.parametrize("value", ["v1", "1.2.3", "latest", "v1_beta-2", ""])
def test_label_values(value):
    assert validate.label_value(value) == value


@pytest.mark.parametrize("value", ["-v1", "v1-", "v 1", 'v1"', "x" * 64])
def test_bad_label_values(value):
    with pytest.raises(BadRequest):
        validate.label_value(value)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("3h", 10800), ("1d", 86400)]
)
def test_durations(text, seconds):
    assert validate.duration_seconds(text) == seconds
    assert validate.duration_seconds(validate.format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "5", "5x", "-5m", "0m", "8d", "5m]", "1h30m", None, 5])
def test_bad_durations(text):
    with pytest.raises(BadRequest):
        validate.duration_seconds(text)


def test_format_duration_picks_the_largest_exact_unit():
    assert [validate.format_duration(s) for s in (90, 120, 7200, 86400, 45)] == [
        "90s",
        "2m",
        "2h",
        "1d",
        "45s",
    ]


def test_times_are_parsed_once_and_checked_once_against_the_clock():
    now = 1_800_000_000.0
    assert validate.at_or_now(None, now) == now
    assert validate.unix_seconds("1795881075") == 1795881075.0
    assert validate.at_or_now(validate.unix_seconds("1795881075"), now) == 1795881075.0
    for bad in ("abc", "nan", "inf", "100"):
        with pytest.raises(BadRequest) as caught:
            validate.unix_seconds(bad)
        assert caught.value.field == "at"
    assert validate.at_or_now(now + 86400, now) == now + 86400  # a clock a day ahead: plausible
    for late in (now + 86401, now + 10 * 86400):
        with pytest.raises(BadRequest, match="outside the range of plausible times") as caught:
            validate.at_or_now(late, now, field="end")
        assert caught.value.field == "end"


def test_a_window_is_parsed_once_into_its_text_and_seconds():
    assert validate.time_window("300s") == validate.TimeWindow("5m", 300)
    assert validate.TimeWindow.of(90) == validate.TimeWindow("90s", 90)
    with pytest.raises(BadRequest) as caught:
        validate.time_window("10x", field="lookback")
    assert caught.value.field == "lookback"
