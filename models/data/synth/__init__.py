"""The embedded default dataset: synthetic full-body people in rooms, with exact masks and attributes.

`synthesize(out, n, seed, size, label_set, ...)` writes a dataset package; `SKEWED_TRAIN` is a group-weight
preset with few dark Monk tones in train (`SKEWED_TRAIN_AND_TEST`: in test too); `LABEL_SETS` lists the two mask
vocabularies. Files, one idea each: monk (skin palette and shading), figure (body geometry), outfit (hair and
clothes), sdf (shapes), canvas and parts (painting), scene (room, lighting, camera), render (one sample),
generate (the package).
"""

from segaudit.models.data.synth.attributes import ATTRIBUTES, SKEWED_TRAIN, SKEWED_TRAIN_AND_TEST
from segaudit.models.data.synth.generate import LABEL_SETS, synthesize

__all__ = ["ATTRIBUTES", "LABEL_SETS", "SKEWED_TRAIN", "SKEWED_TRAIN_AND_TEST", "synthesize"]
