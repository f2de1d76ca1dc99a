"""Home Assistant MQTT discovery: retained configs that make the observatory's live topics show up
as entities on a home dashboard (when ``[mqtt] home_assistant`` is on).

Each config goes to ``<discovery_prefix>/<component>/<node_id>/<object_id>/config`` with node_id
``obsy_<site>``, and points Home Assistant at our own ``<prefix>/<site>/...`` topics: its
``value_template`` reads the JSON payload there (``value_json``), so nothing is published twice.
The site's status topic is every entity's availability (``offline`` is the master's MQTT will).

Entities: the sky (a binary_sensor, ON = safe, plus the raw state), the current job, the last
frame, and one roof and one mount sensor per node, announced when that node is first heard of.
"""
from __future__ import annotations

from typing import get_args

from .live import FRAME, JOB, MOUNT, ROOF, SAFETY, STATUS, LiveMount, LiveRoof, site_root, topic

ROOF_STATES = list(get_args(LiveRoof.model_fields["state"].annotation))
MOUNT_STATES = list(get_args(LiveMount.model_fields["state"].annotation))
STATE = "{{ value_json.state }}"


def site_entities(prefix: str, site: str) -> list[tuple[str, str, dict]]:
    """(component, object_id, config) of the entities every site has."""
    root = site_root(prefix, site)
    return [
        ("binary_sensor", "safe", {
            "name": "Sky safe", "state_topic": f"{root}/{SAFETY.leaf}",
            # ON means safe. No device_class: Home Assistant's "safety" class reads ON as unsafe.
            "value_template": "{{ 'ON' if value_json.state == 'safe' else 'OFF' }}",
            "json_attributes_topic": f"{root}/{SAFETY.leaf}"}),
        ("sensor", "safety", {"name": "Safety state", "state_topic": f"{root}/{SAFETY.leaf}",
                              "value_template": STATE, "device_class": "enum",
                              "options": ["safe", "unsafe", "unknown"]}),
        ("sensor", "job", {"name": "Current job", "state_topic": f"{root}/{JOB.leaf}", "value_template": STATE,
                           "json_attributes_topic": f"{root}/{JOB.leaf}"}),
        ("sensor", "last_frame", {"name": "Last frame", "state_topic": f"{root}/{FRAME.leaf}",
                                  "value_template": "{{ value_json.object_name or value_json.frame_type }}",
                                  "json_attributes_topic": f"{root}/{FRAME.leaf}"}),
    ]


def node_entities(prefix: str, site: str, roofs=(), mounts=()) -> list[tuple[str, str, dict]]:
    """A roof sensor per observatory node and a mount sensor per telescope node."""
    entities = []
    for kind, spec, states, nodes in (("roof", ROOF, ROOF_STATES, roofs), ("mount", MOUNT, MOUNT_STATES, mounts)):
        for node in sorted(nodes):
            state_topic = topic(prefix, site, spec, node)
            entities.append(("sensor", f"{kind}_{node}", {
                "name": f"{kind.capitalize()} {node}", "state_topic": state_topic, "value_template": STATE,
                "device_class": "enum", "options": states, "json_attributes_topic": state_topic}))
    return entities


def discovery_configs(prefix: str, site: str, entities: list[tuple[str, str, dict]],
                      discovery_prefix: str = "homeassistant") -> list[tuple[str, dict]]:
    """(topic, config) pairs of ``entities`` to publish retained, QoS 1."""
    node_id = f"obsy_{site}"
    device = {"identifiers": [node_id], "name": f"OBSY {site}", "manufacturer": "OBSY"}
    availability = {"availability_topic": topic(prefix, site, STATUS),
                    "availability_template": STATE,
                    "payload_available": "online", "payload_not_available": "offline"}
    return [(f"{discovery_prefix}/{component}/{node_id}/{object_id}/config",
             {**config, "unique_id": f"{node_id}_{object_id}", "device": device, **availability})
            for component, object_id, config in entities]
