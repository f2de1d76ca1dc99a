"""OBSY observatory node: the safety monitor (``safety``); roof control, cloud detection and forecasts come later."""
