"""Science pipelines on calibrated data, as a library (no database yet).

``photometry`` measures stars and writes AAVSO Extended reports, ``transit`` fits exoplanet transits
and writes AAVSO exoplanet reports, ``ser`` reads and writes SER videos, ``solex`` rebuilds solar
disks from Sol'ex scans, ``cli`` is ``obsy science``.
"""
