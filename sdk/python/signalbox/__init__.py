"""The Signalbox plugin SDK for Python.

A plugin is a module that defines ``init(config)`` (optional) and the entry
point of its world, as plain functions::

    from signalbox import Config, Event, PluginError

    THRESHOLD = 1000.0

    def init(config: Config) -> None:
        global THRESHOLD
        THRESHOLD = config.number("threshold", 1000.0)

    def keep(event: Event) -> bool:                     # world `filter`
        return (event.data_json() or {}).get("total", 0) >= THRESHOLD

For the world ``lazy-filter`` (build with ``--world lazy-filter``) ``keep``
gets a :class:`LazyEvent` instead, which copies in only the attributes it
reads.

Build it with ``sdk/python/build.sh plugin.py --world filter -o plugin.wasm``
(componentize-py). The build generates the bindings for the world
(``wit_world``) and an entry module that adapts these functions to them
(:mod:`signalbox._world`): raw WIT events become :class:`Event`, the
configuration a :class:`Config`, and any exception an error that is recorded
in the event's trace.
"""

from __future__ import annotations

import json as _json
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

__all__ = [
    "Config",
    "Event",
    "ExtensionValue",
    "LazyEvent",
    "JSON_MEDIA_TYPE",
    "PluginError",
    "is_json_media_type",
]

#: The media type ``json=`` data gets when the event does not declare a JSON one.
JSON_MEDIA_TYPE = "application/json"

#: A CloudEvents extension value: a string, a boolean or a 32-bit integer.
ExtensionValue = Union[str, bool, int]

_MISSING: Any = object()
_ATTRIBUTES = ("subject", "time", "datacontenttype", "dataschema")


class PluginError(Exception):
    """An error reported on purpose: its message is recorded in the event's
    trace and the rule's status. Any other exception is reported too (as
    ``TypeName: message (at file:line)``)."""


def is_json_media_type(media_type: Optional[str]) -> bool:
    """Whether a media type denotes JSON: ``application/json``,
    ``text/json`` or any ``+json`` suffix, ignoring parameters and case (the
    host's rule)."""
    if not media_type:
        return False
    essence = media_type.split(";", 1)[0].strip().lower()
    return (
        essence in ("application/json", "text/json")
        or (len(essence) > 5 and essence.endswith("+json"))
    )


def _parse_json_data(event_id: str, media_type: Optional[str], data: Optional[bytes]) -> Any:
    """``data`` parsed as JSON, or ``None`` without data. Raises
    :class:`PluginError` naming the event when the data is declared another
    type or does not parse."""
    if data is None:
        return None
    if media_type is not None and not is_json_media_type(media_type):
        raise PluginError("data of event %s is %s, not JSON" % (event_id, media_type))
    try:
        return _json.loads(data)
    except ValueError as e:
        raise PluginError("data of event %s is not valid JSON: %s" % (event_id, e))


class Event:
    """One CloudEvents 1.0 event.

    ``data`` is ``bytes`` (or ``None``); pass ``json=value`` instead to set
    JSON data (which also sets ``datacontenttype`` to ``application/json``
    unless it already names a JSON type). ``extensions`` maps names
    (``[a-z0-9]+``) to strings, booleans or 32-bit integers.
    """

    __slots__ = (
        "id",
        "source",
        "type",
        "subject",
        "time",
        "datacontenttype",
        "dataschema",
        "extensions",
        "data",
    )

    def __init__(
        self,
        id: str,
        source: str,
        type: str,
        *,
        subject: Optional[str] = None,
        time: Optional[str] = None,
        datacontenttype: Optional[str] = None,
        dataschema: Optional[str] = None,
        extensions: Optional[Dict[str, ExtensionValue]] = None,
        data: Union[bytes, bytearray, str, None] = None,
        json: Any = _MISSING,
    ) -> None:
        self.id = id
        self.source = source
        self.type = type
        self.subject = subject
        self.time = time
        self.datacontenttype = datacontenttype
        self.dataschema = dataschema
        self.extensions: Dict[str, ExtensionValue] = dict(extensions or {})
        if json is not _MISSING:
            self.data: Optional[bytes] = _json.dumps(
                json, ensure_ascii=False, separators=(",", ":")
            ).encode("utf-8")
            if not is_json_media_type(datacontenttype):
                self.datacontenttype = JSON_MEDIA_TYPE
        elif isinstance(data, str):
            self.data = data.encode("utf-8")
        elif isinstance(data, (bytes, bytearray)):
            self.data = bytes(data)
        elif data is None:
            self.data = None
        else:
            raise TypeError(
                "Event data must be bytes or str (got %s); use json= for JSON values"
                % data.__class__.__name__
            )

    def is_json(self) -> bool:
        """Whether the data is declared JSON, or undeclared (which CloudEvents'
        JSON format implies)."""
        return self.datacontenttype is None or is_json_media_type(self.datacontenttype)

    def data_text(self) -> Optional[str]:
        """The data as text (UTF-8), or ``None`` without data."""
        return None if self.data is None else self.data.decode("utf-8", "replace")

    def data_json(self) -> Any:
        """The data parsed as JSON, or ``None`` without data. Raises
        :class:`PluginError` naming the event when the data is not JSON."""
        return _parse_json_data(self.id, self.datacontenttype, self.data)

    def extension(self, name: str, default: Optional[ExtensionValue] = None) -> Optional[ExtensionValue]:
        """An extension attribute's value, or ``default``."""
        return self.extensions.get(name, default)

    def replace(self, **changes: Any) -> "Event":
        """A copy with some attributes changed: any constructor argument
        (``json=`` replaces the data). ``set_extensions={name: value}`` adds
        or, with ``None``, removes some extensions."""
        fields = {
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time,
            "datacontenttype": self.datacontenttype,
            "dataschema": self.dataschema,
            "extensions": dict(self.extensions),
            "data": self.data,
        }
        set_ext = changes.pop("set_extensions", None)
        if "json" in changes:
            fields.pop("data")
        fields.update(changes)
        if set_ext:
            for k, v in set_ext.items():
                if v is None:
                    fields["extensions"].pop(k, None)
                else:
                    fields["extensions"][k] = v
        return Event(**fields)

    def to_dict(self) -> Dict[str, Any]:
        """The event in the CloudEvents JSON format (structured mode)."""
        out: Dict[str, Any] = {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
        }
        for a in _ATTRIBUTES:
            v = getattr(self, a)
            if v is not None:
                out[a] = v
        out.update(self.extensions)
        if self.data is not None:
            try:
                if not self.is_json():
                    raise ValueError
                out["data"] = _json.loads(self.data)
            except ValueError:
                import base64

                out["data_base64"] = base64.b64encode(self.data).decode("ascii")
        return out

    def __repr__(self) -> str:
        return "Event(id=%r, source=%r, type=%r)" % (self.id, self.source, self.type)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and all(
            getattr(self, s) == getattr(other, s) for s in Event.__slots__
        )


class LazyEvent:
    """The event a *lazy* filter (world ``lazy-filter``) decides on, read
    attribute by attribute.

    Each attribute is asked of the host, and copied in, when you read it,
    and again every time you read it: keep what you need twice in a local.
    A filter that looks at one or two attributes of a large event saves the
    copy of everything else. ``to_event()`` copies the whole
    :class:`Event`. It always reads the event of the ``keep`` call running
    now (the same object is passed to every call), so do not keep it to
    read later; read outside any call (in ``init``), it traps.
    """

    __slots__ = ("_lazy", "_to_event")

    def __init__(self, lazy: Any, to_event: Any) -> None:
        self._lazy = lazy
        self._to_event = to_event

    @property
    def id(self) -> str:
        return self._lazy.id()

    @property
    def source(self) -> str:
        return self._lazy.source()

    @property
    def type(self) -> str:
        return self._lazy.type()

    @property
    def subject(self) -> Optional[str]:
        return self._lazy.subject()

    @property
    def time(self) -> Optional[str]:
        return self._lazy.time()

    @property
    def datacontenttype(self) -> Optional[str]:
        return self._lazy.datacontenttype()

    @property
    def dataschema(self) -> Optional[str]:
        return self._lazy.dataschema()

    @property
    def extensions(self) -> Dict[str, ExtensionValue]:
        """Every extension attribute, in order."""
        return {name: value.value for name, value in self._lazy.extensions()}

    def extension(self, name: str, default: Optional[ExtensionValue] = None) -> Optional[ExtensionValue]:
        """One extension attribute's value (only that one is copied), or
        ``default``."""
        value = self._lazy.extension(name)
        return default if value is None else value.value

    @property
    def data_size(self) -> Optional[int]:
        """The size of the data in bytes, without copying it; ``None``
        without data."""
        return self._lazy.data_size()

    @property
    def data(self) -> Optional[bytes]:
        return self._lazy.data()

    def data_json(self) -> Any:
        """The data parsed as JSON, or ``None`` without data (as
        :meth:`Event.data_json`)."""
        data = self.data
        return None if data is None else _parse_json_data(self.id, self.datacontenttype, data)

    def to_event(self) -> "Event":
        """The whole event, copied in at once."""
        return self._to_event()


class Config:
    """The rule's configuration for this plugin. Values that were not
    strings in the rule's JSON arrive as JSON text (``42`` as ``"42"``,
    ``["a"]`` as ``'["a"]'``); the typed getters parse them and raise
    :class:`PluginError` naming the key when they cannot. Without a
    ``default`` a missing key is an error."""

    def __init__(self, pairs: Iterable[Tuple[str, str]] = ()) -> None:
        self._map: Dict[str, str] = {}
        for k, v in pairs:
            self._map.setdefault(k, v)

    def __contains__(self, key: object) -> bool:
        return key in self._map

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def items(self) -> List[Tuple[str, str]]:
        return list(self._map.items())

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        return self._map.get(key, default)

    def require(self, key: str) -> str:
        if key not in self._map:
            raise PluginError("config: `%s` is required" % key)
        return self._map[key]

    def _raw(self, key: str, default: Any) -> Any:
        if key in self._map:
            return self._map[key]
        if default is _MISSING:
            raise PluginError("config: `%s` is required" % key)
        return _Default(default)

    def number(self, key: str, default: Any = _MISSING) -> float:
        raw = self._raw(key, default)
        if isinstance(raw, _Default):
            return raw.value
        try:
            value = float(raw.strip())
        except ValueError:
            value = float("nan")
        if value != value or value in (float("inf"), float("-inf")):
            raise PluginError("config: `%s` = %r: expected a finite number" % (key, raw))
        return value

    def integer(self, key: str, default: Any = _MISSING) -> int:
        raw = self._raw(key, default)
        if isinstance(raw, _Default):
            return raw.value
        try:
            return int(raw.strip())
        except ValueError:
            raise PluginError("config: `%s` = %r: expected an integer" % (key, raw))

    def bool(self, key: str, default: Any = _MISSING) -> bool:
        raw = self._raw(key, default)
        if isinstance(raw, _Default):
            return raw.value
        if raw.strip() in ("true", "false"):
            return raw.strip() == "true"
        raise PluginError("config: `%s` = %r: expected true or false" % (key, raw))

    def list(self, key: str, default: Any = _MISSING) -> List[str]:
        """A list of strings: a JSON array (how a list in the rule's JSON
        arrives) or a comma-separated string. Items are trimmed, empty ones
        dropped."""
        raw = self._raw(key, default)
        if isinstance(raw, _Default):
            return raw.value
        if raw.lstrip().startswith("["):
            try:
                items = _json.loads(raw)
            except ValueError as e:
                raise PluginError("config: `%s`: expected a list of strings: %s" % (key, e))
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise PluginError("config: `%s`: expected a list of strings" % key)
        else:
            items = raw.split(",")
        return [s.strip() for s in items if s.strip()]

    def json(self, key: str, default: Any = _MISSING) -> Any:
        """The value parsed as JSON (objects and arrays arrive as JSON text);
        a string that is not JSON is returned as it is."""
        raw = self._raw(key, default)
        if isinstance(raw, _Default):
            return raw.value
        try:
            return _json.loads(raw)
        except ValueError:
            return raw

    def expect_keys(self, known: Iterable[str]) -> None:
        """Raise when the configuration has a key not in ``known``, so a typo
        is reported by ``init`` instead of silently using a default."""
        known = list(known)
        for key in self._map:
            if key not in known:
                if not known:
                    raise PluginError(
                        "config: unknown key `%s`; this plugin takes no configuration" % key
                    )
                raise PluginError(
                    "config: unknown key `%s`; this plugin knows %s"
                    % (key, ", ".join("`%s`" % k for k in known))
                )


class _Default:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value
