"""filter_lazy_region — keeps events from the configured regions.

A *lazy* filter (world ``lazy-filter``, see the ``world`` file next to this
one) written in Python with the Signalbox SDK: ``keep`` gets a
``LazyEvent`` and reads one extension attribute of it, so the host copies
that attribute into the plugin and nothing else of the event.

An event is kept when its extension ``extension`` (default ``region``) is one
of ``regions``; events without it are kept only when ``keep_missing`` is
true. With ``require_json`` true, an event whose data is declared but not
JSON is an error (this reads ``datacontenttype`` too).

Configuration:

================ ============ ==========================================
key              default      meaning
================ ============ ==========================================
``regions``      (required)   comma-separated region names to keep
``extension``    ``region``   the extension attribute holding the region
``keep_missing`` ``false``    keep events without the extension
``require_json`` ``false``    fail events whose data is not JSON
================ ============ ==========================================
"""

from signalbox import Config, LazyEvent, PluginError, is_json_media_type

REGIONS = set()
EXTENSION = "region"
KEEP_MISSING = False
REQUIRE_JSON = False


def init(config: Config) -> None:
    global REGIONS, EXTENSION, KEEP_MISSING, REQUIRE_JSON
    config.expect_keys(["regions", "extension", "keep_missing", "require_json"])
    REGIONS = set(config.list("regions"))
    EXTENSION = config.get("extension", "region")
    KEEP_MISSING = config.bool("keep_missing", False)
    REQUIRE_JSON = config.bool("require_json", False)


def keep(event: LazyEvent) -> bool:
    if REQUIRE_JSON and event.data_size is not None:
        media = event.datacontenttype
        if media is not None and not is_json_media_type(media):
            raise PluginError("event %s carries %s data, not JSON" % (event.id, media))
    region = event.extension(EXTENSION)
    if region is None:
        return KEEP_MISSING
    return str(region) in REGIONS
