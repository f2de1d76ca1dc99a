"""Processing: master calibration frames, calibration of lights, registration and stacking.

``combine`` combines frames in bounded memory, ``masters`` builds masters, ``calibrate`` applies
them to lights, ``stack`` registers and stacks lights, ``cli`` is ``obsy process``.
"""
