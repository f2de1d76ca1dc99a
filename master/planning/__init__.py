"""Night planning: what the sky allows at a site tonight, and the order that uses it best."""
