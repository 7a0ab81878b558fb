"""The bundled human-segmentation models, their data format, training and on-device export.

`models` imports neither `audit` nor `cards`: it is the bottom of the house.
"""
