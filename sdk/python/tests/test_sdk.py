"""Unit tests of the helper layer, run natively:

    python3 -m unittest discover -s sdk/python/tests
"""

import sys
import types as _pytypes
import unittest
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from signalbox import Config, Event, PluginError, is_json_media_type  # noqa: E402


# Stand-ins for what componentize-py generates, to test the adapter natively.
class Err(Exception):
    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.value = value


sys.modules["componentize_py_types"] = _pytypes.SimpleNamespace(Err=Err)  # type: ignore[assignment]


@dataclass
class AttributeValue_Str:
    value: str


@dataclass
class AttributeValue_Boolean:
    value: bool


@dataclass
class AttributeValue_Integer:
    value: int


@dataclass
class WitEvent:
    id: str
    source: str
    type: str
    subject: Optional[str]
    time: Optional[str]
    datacontenttype: Optional[str]
    dataschema: Optional[str]
    extensions: List[Tuple[str, Any]]
    data: Optional[bytes]


@dataclass
class WitError:
    message: str


wit_types = _pytypes.SimpleNamespace(
    AttributeValue_Str=AttributeValue_Str,
    AttributeValue_Boolean=AttributeValue_Boolean,
    AttributeValue_Integer=AttributeValue_Integer,
    Event=WitEvent,
    Error=WitError,
)

from signalbox._world import from_wit, make_world, to_wit  # noqa: E402

RAW = WitEvent(
    "o1", "/shop", "order.created", None, None, "application/json", None,
    [("tenant", AttributeValue_Str("acme")), ("n", AttributeValue_Integer(3)), ("vip", AttributeValue_Boolean(True))],
    b'{"total": 12.5}',
)


class EventTests(unittest.TestCase):
    def test_round_trip(self) -> None:
        e = from_wit(wit_types, RAW)
        self.assertEqual(e.extension("tenant"), "acme")
        self.assertEqual(e.data_json(), {"total": 12.5})
        self.assertEqual(to_wit(wit_types, e, "e"), RAW)
        with self.assertRaisesRegex(TypeError, "32-bit"):
            to_wit(wit_types, e.replace(extensions={"big": 2**40}), "out")

    def test_replace_and_json(self) -> None:
        e = Event("1", "/s", "t", datacontenttype="text/plain", data="hi")
        self.assertEqual(e.data_text(), "hi")
        with self.assertRaises(PluginError):
            e.data_json()
        j = e.replace(json={"a": 1}, subject="x", set_extensions={"k": "v"})
        self.assertEqual(j.datacontenttype, "application/json")
        self.assertEqual(j.data_json(), {"a": 1})
        self.assertEqual(j.extensions, {"k": "v"})
        self.assertIsNone(e.subject)
        self.assertEqual(
            j.to_dict(),
            {"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "subject": "x",
             "datacontenttype": "application/json", "k": "v", "data": {"a": 1}},
        )
        self.assertEqual(Event("1", "/s", "t", data=b"\xff").to_dict()["data_base64"], "/w==")
        self.assertTrue(is_json_media_type("application/cloudevents+json; charset=utf-8"))


class ConfigTests(unittest.TestCase):
    def test_getters(self) -> None:
        c = Config([("n", "42"), ("b", "true"), ("l", '["a", " b "]'), ("csv", "x, y,,"), ("bad", "lots"), ("n", "no")])
        self.assertEqual(c.number("n"), 42.0)
        self.assertEqual(c.integer("n"), 42)
        self.assertEqual(c.number("zz", 7), 7)
        self.assertTrue(c.bool("b"))
        self.assertEqual(c.list("l"), ["a", "b"])
        self.assertEqual(c.list("csv"), ["x", "y"])
        with self.assertRaisesRegex(PluginError, "config: `bad` = 'lots': expected a finite number"):
            c.number("bad")
        with self.assertRaisesRegex(PluginError, "config: `zz` is required"):
            c.require("zz")
        with self.assertRaisesRegex(PluginError, "unknown key `b`; this plugin knows `n`"):
            c.expect_keys(["n"])


class WorldTests(unittest.TestCase):
    def test_filter_and_errors(self) -> None:
        plugin = _pytypes.SimpleNamespace(__name__="p", keep=lambda e: e.data_json()["total"] > 10)
        world = make_world(object, wit_types, "filter", plugin)()
        world.init([])
        self.assertTrue(world.keep(RAW))
        bad = make_world(object, wit_types, "filter", _pytypes.SimpleNamespace(__name__="p", keep=lambda e: "yes"))()
        with self.assertRaises(Err) as cm:
            bad.keep(RAW)
        self.assertEqual(cm.exception.value.message, "keep() returned 'yes'; it must return True or False")

        def boom(e: Event) -> bool:
            return {}["missing"]

        crash = make_world(object, wit_types, "filter", _pytypes.SimpleNamespace(__name__="p", keep=boom))()
        with self.assertRaises(Err) as cm:
            crash.keep(RAW)
        self.assertRegex(cm.exception.value.message, r"^KeyError: 'missing' \(at test_sdk.py:\d+ in boom\)$")

    def test_transform(self) -> None:
        def transform(e: Event):
            return [e, e.replace(id="o2")] if e.id == "o1" else None

        world = make_world(object, wit_types, "transform", _pytypes.SimpleNamespace(__name__="p", transform=transform))()
        self.assertEqual([x.id for x in world.transform(RAW)], ["o1", "o2"])
        self.assertEqual(world.transform(WitEvent("x", "/s", "t", None, None, None, None, [], None)), [])
        with self.assertRaisesRegex(TypeError, "must define a function transform"):
            make_world(object, wit_types, "transform", _pytypes.SimpleNamespace(__name__="p"))

    def test_lazy_filter_reads_only_what_it_asks_for(self) -> None:
        asked: List[str] = []

        def lazy_fn(name: str, value: Any) -> Any:
            def f(*args: Any) -> Any:
                asked.append(name)
                return value(*args) if callable(value) else value

            return f

        ext = dict(RAW.extensions)
        lazy = _pytypes.SimpleNamespace(
            id=lazy_fn("id", RAW.id),
            source=lazy_fn("source", RAW.source),
            type=lazy_fn("type", RAW.type),
            subject=lazy_fn("subject", RAW.subject),
            time=lazy_fn("time", RAW.time),
            datacontenttype=lazy_fn("datacontenttype", RAW.datacontenttype),
            dataschema=lazy_fn("dataschema", RAW.dataschema),
            extension=lazy_fn("extension", lambda n: ext.get(n)),
            extensions=lazy_fn("extensions", RAW.extensions),
            data_size=lazy_fn("data_size", len(RAW.data or b"")),
            data=lazy_fn("data", RAW.data),
            to_event=lazy_fn("to_event", RAW),
        )
        plugin = _pytypes.SimpleNamespace(__name__="p", keep=lambda e: e.extension("tenant") == "acme")
        world = make_world(object, wit_types, "lazy-filter", plugin, lazy)()
        world.init([])
        self.assertTrue(world.keep_lazy())
        self.assertEqual(asked, ["extension"])

        seen = {}

        def everything(e: Any) -> bool:
            seen.update(
                id=e.id, source=e.source, type=e.type, subject=e.subject, time=e.time,
                datacontenttype=e.datacontenttype, dataschema=e.dataschema,
                extensions=e.extensions, missing=e.extension("nope", "dflt"),
                data_size=e.data_size, data=e.data, json=e.data_json(), event=e.to_event(),
            )
            return False

        world = make_world(object, wit_types, "lazy-filter", _pytypes.SimpleNamespace(__name__="p", keep=everything), lazy)()
        self.assertFalse(world.keep_lazy())
        self.assertEqual(seen["type"], "order.created")
        self.assertEqual(seen["extensions"], {"tenant": "acme", "n": 3, "vip": True})
        self.assertEqual(seen["missing"], "dflt")
        self.assertEqual(seen["data_size"], 15)
        self.assertEqual(seen["json"], {"total": 12.5})
        self.assertIsInstance(seen["event"], Event)
        self.assertEqual(seen["event"].id, "o1")
        bad = make_world(object, wit_types, "lazy-filter", _pytypes.SimpleNamespace(__name__="p", keep=lambda e: 1), lazy)()
        with self.assertRaises(Err) as cm:
            bad.keep_lazy()
        self.assertEqual(cm.exception.value.message, "keep() returned 1; it must return True or False")


if __name__ == "__main__":
    unittest.main()
