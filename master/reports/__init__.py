"""Reports: what a target or a night produced, aggregated from frame rows and safety history."""
