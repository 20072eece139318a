"""MixedCluster: devices of several types (GPU generations, MIG slices) as (type, count, node) entries.

``ClusterSpec`` describes a homogeneous cluster; a mixed one is a list of entries, each a number of
devices of one type on one node. Devices are numbered in entry order. Groups of a placement run on
devices of one type only (a pipeline or tensor-parallel group across types would run at the pace of
its slowest member, and MIG instances cannot talk to each other over NVLink at all), so the cluster
hands out per-type views: ``device_ids(type)`` and ``homogeneous_part(type)``, a ``ClusterSpec`` a
placement policy can work on unchanged.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from alpa_serve_like.core.hardware import ClusterSpec, get_device


@dataclass(frozen=True)
class DeviceEntry:
    """``count`` devices of ``device_type`` (``a100-80gb`` or a slice ``a100-80gb/3g.40gb``) on ``node``."""

    device_type: str
    count: int
    node: int = 0

    def __post_init__(self):
        get_device(self.device_type)  # unknown names fail here, listing the known ones
        if self.count < 1 or self.node < 0:
            raise ValueError(f"device entry {self.device_type!r}: need count >= 1 and node >= 0, "
                             f"got count={self.count}, node={self.node}")


@dataclass(frozen=True)
class MixedCluster:
    """Entries of devices; ``memory_fraction`` of each device's memory is a placement's budget."""

    entries: tuple[DeviceEntry, ...]
    memory_fraction: float = 0.8

    def __post_init__(self):
        if not self.entries:
            raise ValueError("mixed cluster: needs at least one device entry")
        if not 0.0 < self.memory_fraction <= 1.0:
            raise ValueError(f"mixed cluster: memory_fraction must be in (0, 1], got {self.memory_fraction!r}")

    @property
    def num_devices(self) -> int:
        return sum(e.count for e in self.entries)

    @property
    def device_types(self) -> tuple[str, ...]:
        """Distinct device types, in first-seen order."""
        return tuple(dict.fromkeys(e.device_type for e in self.entries))

    def devices(self) -> list[tuple[str, int]]:
        """(device type, node) of every device, by device id."""
        return [(e.device_type, e.node) for e in self.entries for _ in range(e.count)]

    def device_ids(self, device_type: str) -> tuple[int, ...]:
        """Ids of the devices of one type (ascending)."""
        ids = tuple(i for i, (t, _) in enumerate(self.devices()) if t == device_type)
        if not ids:
            raise KeyError(f"mixed cluster has no {device_type!r} devices (types: {', '.join(self.device_types)})")
        return ids

    def homogeneous_part(self, device_type: str) -> ClusterSpec:
        """The devices of one type as a ClusterSpec (``devices_per_node``: the most on any node)."""
        per_node = Counter(node for t, node in self.devices() if t == device_type)
        if not per_node:
            self.device_ids(device_type)  # raises with the list of types
        memory = int(get_device(device_type).memory_bytes * self.memory_fraction)
        return ClusterSpec(num_devices=sum(per_node.values()), devices_per_node=max(per_node.values()),
                           memory_budget_bytes=memory, device_type=device_type)

    def check_group(self, device_ids: tuple[int, ...]) -> str:
        """The single device type of a group's devices; errors if they are of several or out of range."""
        devices = self.devices()
        bad = [d for d in device_ids if not 0 <= d < len(devices)]
        if bad:
            raise ValueError(f"group names device {bad[0]} but the mixed cluster has {len(devices)}")
        types = sorted({devices[d][0] for d in device_ids})
        if len(types) != 1:
            raise ValueError(f"group spans device types {types}: build each group from one type")
        return types[0]

    def to_dict(self) -> dict:
        return {"entries": [vars(e).copy() for e in self.entries], "memory_fraction": self.memory_fraction}

    @classmethod
    def from_dict(cls, data: dict) -> "MixedCluster":
        return cls(tuple(DeviceEntry(**e) for e in data["entries"]), float(data.get("memory_fraction", 0.8)))


SPEC_FORMAT = "TYPE:COUNT[@NODE],... (e.g. 'a100-80gb:2@0,a100-80gb/3g.40gb:4@1,v100-16gb:4@2') or a .json file"


def parse_cluster_spec(text: str, memory_fraction: float) -> MixedCluster:
    """A ``MixedCluster`` from the command line's form: ``TYPE:COUNT[@NODE]`` entries separated by
    commas (node 0 when omitted). Raises ValueError naming the bad entry and the expected form."""
    entries = []
    items = [s.strip() for s in text.split(",")]
    for i, item in enumerate(items, 1):
        where = f"cluster spec {text!r}, entry {i} {item!r}"
        kind, sep, rest = item.rpartition(":")
        count_text, at, node_text = rest.partition("@")
        if not sep or not kind or not count_text.strip().isdigit() or (at and not node_text.strip().isdigit()):
            raise ValueError(f"{where}: expected TYPE:COUNT[@NODE] with whole numbers, e.g. 'a100-80gb:2@0'")
        entries.append(_entry(kind.strip(), int(count_text), int(node_text) if at else 0, where))
    return MixedCluster(tuple(entries), memory_fraction)


def load_cluster_spec(path: str, memory_fraction: float) -> MixedCluster:
    """A ``MixedCluster`` from a JSON file: ``{"entries": [{"device_type": T, "count": N, "node": K}, ...]}``
    (``node`` optional). Raises ValueError naming the file and what was expected."""
    import json

    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"cluster spec {path}: not JSON ({exc})") from None
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"cluster spec {path}: expected an object with a non-empty 'entries' list of "
                         f"{{\"device_type\": ..., \"count\": ..., \"node\": ...}}")
    out = []
    for i, e in enumerate(entries):
        where = f"cluster spec {path}: entries[{i}]"
        if not isinstance(e, dict) or not isinstance(e.get("device_type"), str) \
                or type(e.get("count")) is not int or type(e.get("node", 0)) is not int \
                or set(e) - {"device_type", "count", "node"}:
            raise ValueError(f"{where}: expected {{\"device_type\": name, \"count\": int, \"node\": int}}, got {e!r}")
        out.append(_entry(e["device_type"], e["count"], e.get("node", 0), where))
    return MixedCluster(tuple(out), memory_fraction)


def _entry(device_type: str, count: int, node: int, where: str) -> DeviceEntry:
    try:
        return DeviceEntry(device_type, count, node)
    except KeyError as exc:  # unknown device type: the message lists the known ones
        raise ValueError(f"{where}: {exc.args[0]}") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
