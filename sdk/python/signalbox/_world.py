"""Adapts a plugin module's plain functions to the generated bindings.

The build command generates an entry module like::

    import wit_world
    from wit_world.imports import types
    import plugin
    from signalbox._world import make_world
    WitWorld = make_world(wit_world.WitWorld, types, "filter", plugin)

``wit_world`` exists only while componentize-py builds the component (it
generates it from ``wit/``), so this module takes it as an argument instead
of importing it.
"""

from __future__ import annotations

import traceback
from typing import Any, List, Tuple

from . import Config, Event, LazyEvent

_ENTRY = {"filter": "keep", "lazy-filter": "keep", "transform": "transform"}


def describe(e: BaseException) -> str:
    """The message recorded for an exception: a ``PluginError``'s message as
    it is; otherwise its type, message and the innermost frame."""
    from . import PluginError

    if isinstance(e, PluginError):
        return str(e)
    frames = traceback.extract_tb(e.__traceback__)
    where = ""
    if frames:
        f = frames[-1]
        where = " (at %s:%s in %s)" % (f.filename.rsplit("/", 1)[-1], f.lineno, f.name)
    text = str(e)
    return "%s%s%s" % (type(e).__name__, ": " + text if text else "", where)


def from_wit(types: Any, raw: Any) -> Event:
    return Event(
        raw.id,
        raw.source,
        raw.type,
        subject=raw.subject,
        time=raw.time,
        datacontenttype=raw.datacontenttype,
        dataschema=raw.dataschema,
        extensions={name: value.value for name, value in raw.extensions},
        data=raw.data,
    )


def to_wit(types: Any, event: Any, where: str) -> Any:
    if not isinstance(event, Event):
        raise TypeError("%s is a %s, not a signalbox.Event" % (where, type(event).__name__))
    extensions: List[Tuple[str, Any]] = []
    for name, value in event.extensions.items():
        if isinstance(value, bool):
            extensions.append((name, types.AttributeValue_Boolean(value)))
        elif isinstance(value, int) and -(2**31) <= value < 2**31:
            extensions.append((name, types.AttributeValue_Integer(value)))
        elif isinstance(value, str):
            extensions.append((name, types.AttributeValue_Str(value)))
        else:
            raise TypeError(
                "%s: extension %r is %r; extension values are strings, booleans or 32-bit integers"
                % (where, name, value)
            )
    return types.Event(
        id=event.id,
        source=event.source,
        type=event.type,
        subject=event.subject,
        time=event.time,
        datacontenttype=event.datacontenttype,
        dataschema=event.dataschema,
        extensions=extensions,
        data=event.data,
    )


def make_world(base: Any, types: Any, world: str, plugin: Any, lazy: Any = None) -> type:
    """The ``WitWorld`` class componentize-py instantiates for ``world``,
    calling the functions of the module ``plugin``. ``lazy`` is the
    generated ``signalbox:plugin/lazy`` module (world ``lazy-filter``)."""
    from componentize_py_types import Err

    entry = _ENTRY.get(world)
    if entry is None:
        raise ValueError(
            "world %r is not supported by the Python SDK (use filter, lazy-filter or transform)" % world
        )
    func = getattr(plugin, entry, None)
    if not callable(func):
        raise TypeError("the plugin module %s must define a function %s()" % (plugin.__name__, entry))
    init_func = getattr(plugin, "init", None)

    def fail(e: BaseException) -> Err:
        return Err(types.Error(message=describe(e)))

    def init(self: Any, config: List[Tuple[str, str]]) -> None:
        if init_func is None:
            return
        try:
            init_func(Config(config))
        except Exception as e:
            raise fail(e)

    def decided(result: Any) -> bool:
        if not isinstance(result, bool):
            raise Err(types.Error(message="keep() returned %r; it must return True or False" % (result,)))
        return result

    if world == "filter":

        def keep(self: Any, event: Any) -> bool:
            try:
                result = func(from_wit(types, event))
            except Exception as e:
                raise fail(e)
            return decided(result)

        return type("WitWorld", (base,), {"init": init, "keep": keep})

    if world == "lazy-filter":
        # One LazyEvent serves every call: it holds no event, only the way
        # to read the current one.
        current = LazyEvent(lazy, lambda: from_wit(types, lazy.to_event()))

        def keep_lazy(self: Any) -> bool:
            try:
                result = func(current)
            except Exception as e:
                raise fail(e)
            return decided(result)

        return type("WitWorld", (base,), {"init": init, "keep_lazy": keep_lazy})

    def transform(self: Any, event: Any) -> List[Any]:
        try:
            result = func(from_wit(types, event))
            if result is None:
                return []
            events = list(result) if isinstance(result, (list, tuple)) else [result]
            return [to_wit(types, e, "returned event %d" % i) for i, e in enumerate(events)]
        except Exception as e:
            raise fail(e)

    return type("WitWorld", (base,), {"init": init, "transform": transform})
