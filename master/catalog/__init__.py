"""Finding targets: the offline OpenNGC catalogue and coordinates typed by people."""
