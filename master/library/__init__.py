"""The calibration library: masters built from ingested calibration frames, and lights calibrated with them."""
