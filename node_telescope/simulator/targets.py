"""A few bright demo targets with J2000 coordinates (degrees), so the simulated
node points somewhere real without a catalogue."""

DEMO_TARGETS = {
    "M31": (10.6847, 41.2690),
    "M42": (83.8221, -5.3911),
    "NGC 7000": (314.6750, 44.3300),
    "M13": (250.4235, 36.4613),
    "M45": (56.8500, 24.1167),
    "M51": (202.4696, 47.1952),
    "M81": (148.8882, 69.0653),
    "M27": (299.9016, 22.7211),
}


def pointing_for(name: str) -> tuple[float, float]:
    try:
        return DEMO_TARGETS[name]
    except KeyError:
        raise ValueError(f"simulator target {name!r} is unknown; known: {', '.join(DEMO_TARGETS)}") from None
