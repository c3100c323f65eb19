"""A Signalbox filter plugin in Python: copy this folder, rename it, edit.

For a transform, define ``transform(event)`` returning an Event, a list of
them, or None, and build with ``--world transform``.

Build:  ../../sdk/python/build.sh plugin.py --world filter -o plugin.wasm
Try:    signalbox plugin test plugin.wasm --event event.json -c region=eu
"""

from signalbox import Config, Event, PluginError

REGIONS = ["eu"]


def init(config: Config) -> None:
    """Called once per instance with the rule's configuration."""
    global REGIONS
    config.expect_keys(["region"])
    REGIONS = config.list("region", REGIONS)


def keep(event: Event) -> bool:
    """True lets the event go on, False drops it. Raise PluginError to fail
    this event with a message that shows up in its trace."""
    region = event.extension("region")
    if region is None:
        data = event.data_json() or {}
        region = data.get("region")
    if region is None:
        raise PluginError("event %s says nothing about its region" % event.id)
    print("event", event.id, "is from", region)  # goes to the Signalbox log
    return region in REGIONS
