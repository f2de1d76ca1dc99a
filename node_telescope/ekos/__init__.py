"""``obsy ekos``: the command for KStars/EKOS files (the file formats themselves are in ``common.ekos``)."""
