"""The Rust JSON serializer (issue 4): every value type, exact errors with paths,
and a property test against the standard library's json module."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import uuid
from collections import OrderedDict, defaultdict
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kafkify

from helpers import create_topic, read_back


def loads(b: bytes) -> Any:
    return json.loads(b.decode("utf-8"))


# --- every supported type ---------------------------------------------------


def test_core_types_compact_utf8_in_insertion_order() -> None:
    value = {"z": 1, "a": [1, 2.5, None, True, False], "é": "ünïcödé ✓", "t": (1, "x")}
    assert (
        kafkify.dumps(value)
        == '{"z":1,"a":[1,2.5,null,true,false],"é":"ünïcödé ✓","t":[1,"x"]}'.encode()
    )
    assert kafkify.dumps(value, sort_keys=True) == (
        '{"a":[1,2.5,null,true,false],"t":[1,"x"],"z":1,"é":"ünïcödé ✓"}'.encode()
    )


def test_ints_of_any_size_are_exact() -> None:
    for n in [0, -1, 2**63 - 1, -(2**63), 2**64, -(2**200), 10**80 + 7]:
        assert kafkify.dumps(n) == str(n).encode()


def test_floats_round_trip_exactly() -> None:
    for f in [0.0, -0.0, 1.5, 1e16, 1e-7, 123456.789, 5e-324, 1.7976931348623157e308, 0.1]:
        assert float(kafkify.dumps(f)) == f
        assert loads(kafkify.dumps([f])) == [f]


def test_control_characters_and_quotes_are_escaped() -> None:
    s = 'quote" backslash\\ nl\n tab\t nul\x00 bell\x07 del\x7f'
    assert loads(kafkify.dumps(s)) == s


def test_datetimes_as_isoformat_with_time_zone() -> None:
    tz = dt.timezone(dt.timedelta(hours=5, minutes=30))
    value = {
        "at": dt.datetime(2026, 11, 23, 18, 58, 48, 123456, tzinfo=tz),
        "naive": dt.datetime(2026, 1, 2, 3, 4, 5),
        "day": dt.date(2026, 2, 28),
        "time": dt.time(23, 59, 1, tzinfo=dt.timezone.utc),
    }
    assert loads(kafkify.dumps(value)) == {
        "at": "2026-11-23T18:58:48.123456+05:30",
        "naive": "2026-01-02T03:04:05",
        "day": "2026-02-28",
        "time": "23:59:01+00:00",
    }


def test_uuid_decimal_enum() -> None:
    class Color(enum.Enum):
        RED = "red"
        NESTED = {"rgb": (255, 0, 0)}  # noqa: RUF012  (an Enum value, not a class attribute)

    class Level(enum.IntEnum):
        HIGH = 3

    class Kind(str, enum.Enum):
        A = "a"

    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    value = {
        "id": u,
        "amount": decimal.Decimal("99.990"),
        "tiny": decimal.Decimal("-1.5E-7"),
        "c": Color.RED,
        "n": Color.NESTED,
        "l": Level.HIGH,
        "k": Kind.A,
    }
    assert kafkify.dumps(value) == (
        b'{"id":"12345678-1234-5678-1234-567812345678","amount":99.990,"tiny":-1.5E-7,'
        b'"c":"red","n":{"rgb":[255,0,0]},"l":3,"k":"a"}'
    )
    # Decimal text is exact: no float rounding on the way
    assert loads(kafkify.dumps(decimal.Decimal("0.1000000000000000055511151231257827"))) == float(
        "0.1000000000000000055511151231257827"
    )
    assert b"0.1000000000000000055511151231257827" == kafkify.dumps(
        decimal.Decimal("0.1000000000000000055511151231257827")
    )


@dataclasses.dataclass
class Item:
    sku: str
    price: decimal.Decimal
    tags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Order:
    order_id: uuid.UUID
    items: list[Item]
    placed: dt.datetime


class Customer(pydantic.BaseModel):
    name: str
    since: dt.date
    score: float = 1.5


def test_dataclasses_and_pydantic_models() -> None:
    order = Order(
        uuid.UUID(int=1),
        [Item("A-1", decimal.Decimal("9.99"), ["x"])],
        dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    )
    assert loads(kafkify.dumps(order)) == {
        "order_id": "00000000-0000-0000-0000-000000000001",
        "items": [{"sku": "A-1", "price": 9.99, "tags": ["x"]}],
        "placed": "2026-01-01T00:00:00+00:00",
    }
    customer = Customer(name="Ada", since=dt.date(2020, 5, 17))
    assert loads(kafkify.dumps({"c": customer})) == {
        "c": loads(customer.model_dump_json().encode())
    }


def test_subclasses_of_builtin_types() -> None:
    class MyStr(str):
        pass

    class MyInt(int):
        def __str__(self) -> str:
            return "not a number"

    class MyFloat(float):
        pass

    class MyList(list):  # type: ignore[type-arg]
        pass

    dd: defaultdict[str, int] = defaultdict(int, b=2)
    value = [MyStr("s"), MyInt(7), MyFloat(2.5), MyList([1]), OrderedDict(a=1), dd]
    assert loads(kafkify.dumps(value)) == ["s", 7, 2.5, [1], {"a": 1}, {"b": 2}]


def test_dict_keys_as_json_dumps_writes_them() -> None:
    class K(enum.Enum):
        A = "alpha"

    value = {7: "int", 2.5: "float", True: "bool", None: "none", K.A: "enum", uuid.UUID(int=2): "u"}
    assert loads(kafkify.dumps(value)) == {
        "7": "int",
        "2.5": "float",
        "true": "bool",
        "null": "none",
        "alpha": "enum",
        "00000000-0000-0000-0000-000000000002": "u",
    }
    plain = {1: "a", 2.5: "b", False: "c", None: "d"}
    assert loads(kafkify.dumps(plain)) == json.loads(json.dumps(plain))


def test_default_callable_replaces_unknown_objects() -> None:
    class Point:
        def __init__(self, x: int, y: int) -> None:
            self.x, self.y = x, y

    def default(o: object) -> object:
        if isinstance(o, Point):
            return {"x": o.x, "y": o.y}
        if isinstance(o, set):
            return sorted(o)
        raise TypeError(f"cannot encode {type(o).__name__}")

    assert kafkify.dumps({"p": Point(1, 2), "s": {3, 1}}, default=default) == (
        b'{"p":{"x":1,"y":2},"s":[1,3]}'
    )
    with pytest.raises(kafkify.SerializationError, match=r"value\['b'\]: default\(\) raised"):
        kafkify.dumps({"b": bytearray(b"x")}, default=default)


# --- errors name the path ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"items": [1, 2, 3, {"price": {1}}]},
            "value['items'][3]['price']: Object of type set is not JSON serializable",
        ),
        ({"x": float("nan")}, "value['x']: Out of range float values are not JSON compliant: nan"),
        ([float("-inf")], "value[0]: Out of range float values are not JSON compliant: -inf"),
        ({"d": decimal.Decimal("NaN")}, "value['d']: Decimal NaN is not JSON compliant"),
        ({"s": "bad \ud800 surrogate"}, "value['s']: str is not valid UTF-8"),
        ({"\udfff": 1}, "value: dict key is not valid UTF-8"),
        ({(1, 2): "tuple key"}, "value: keys must be str, int, float, bool, None, Enum or UUID"),
        ({"b": b"bytes"}, "value['b']: Object of type bytes is not JSON serializable"),
        (
            {"it's": [object()]},
            "value['it\\'s'][0]: Object of type object is not JSON serializable",
        ),
    ],
)
def test_errors_name_the_path(value: object, message: str) -> None:
    with pytest.raises(kafkify.SerializationError) as info:
        kafkify.dumps(value)
    assert str(info.value).startswith(message), str(info.value)
    assert isinstance(info.value, TypeError)


def test_circular_references_are_errors() -> None:
    a: list[object] = [1]
    a.append({"back": a})
    with pytest.raises(
        kafkify.SerializationError, match=r"value\[1\]\['back'\]: circular reference"
    ):
        kafkify.dumps(a)
    d: dict[str, object] = {}
    d["self"] = d
    with pytest.raises(kafkify.SerializationError, match=r"value\['self'\]: circular"):
        kafkify.dumps(d)
    with pytest.raises(kafkify.SerializationError, match="circular"):
        kafkify.dumps(object(), default=lambda o: o)  # default() keeps returning its input


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    deep: list[object] = []
    cursor = deep
    for _ in range(100_000):
        nxt: list[object] = []
        cursor.append(nxt)
        cursor = nxt
    with pytest.raises(kafkify.SerializationError, match="nesting deeper than 255 levels"):
        kafkify.dumps(deep)
    ok: object = 1
    for _ in range(254):
        ok = [ok]
    assert loads(kafkify.dumps(ok)) == ok


def test_a_dict_changed_while_serialized_is_an_error() -> None:
    target: dict[str, object] = {"a": 1}

    def default(o: object) -> object:
        target["added"] = 2  # mutate the dict being walked
        return "x"

    target["b"] = object()
    with pytest.raises(kafkify.SerializationError, match="dict changed size during serialization"):
        kafkify.dumps(target, default=default)


# --- property test: same document as the standard library --------------------

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=6)
        | st.tuples(children, children)
        | st.dictionaries(
            st.text() | st.integers() | st.booleans() | st.none(), children, max_size=6
        )
    ),
    max_leaves=40,
)


@settings(
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(json_values)
def test_round_trips_like_json_dumps(value: object) -> None:
    try:
        expected = json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        # Lone surrogates: json.dumps writes them, UTF-8 cannot hold them; we refuse.
        with pytest.raises(kafkify.SerializationError, match="not valid UTF-8"):
            kafkify.dumps(value)
        return
    # Keys that json.dumps maps onto the same string collide the same way in both.
    assert loads(kafkify.dumps(value)) == json.loads(expected)


# --- the producer uses the same code path ----------------------------------


def test_producer_sends_exactly_what_dumps_returns(bootstrap: str) -> None:
    topic = create_topic(bootstrap, 1)

    class Money:
        def __init__(self, cents: int) -> None:
            self.cents = cents

    value = {"order": Order(uuid.UUID(int=3), [], dt.datetime(2026, 5, 1)), "m": Money(250)}

    def default(o: object) -> object:
        if isinstance(o, Money):
            return {"cents": o.cents}
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")

    with kafkify.Producer(
        bootstrap_servers=bootstrap, json_default=default, key_serializer="json"
    ) as p:
        p.send(topic, value, key={"user": 7, "region": "eu"})
        with pytest.raises(
            kafkify.SerializationError,
            match=r"key: default\(\) raised TypeError: Object of type set",
        ):
            p.send(topic, value, key={1, 2})
    [record] = read_back(bootstrap, topic, expected=1)
    assert record.value == kafkify.dumps(value, default=default)
    assert record.key == b'{"user":7,"region":"eu"}'
