"""Importers: turn the formats users already have into dataset packages (written atomically, validated).

* `import_folder`: a folder of images + a folder of class-id PNG masks (+ attribute CSV and declarations)
* `import_coco`: COCO instance annotations -> person/background (iscrowd regions -> ignore_index 255)
* `import_pennfudan`: PennFudanPed instance masks -> person/background
* `import_celebamask`: CelebAMask-HQ part masks -> the 11 face classes (+ CelebA attributes)

Bad input is an `InputError` naming the file (and row/field where there is one).
"""

from segaudit.models.data.importers.celebamask import import_celebamask
from segaudit.models.data.importers.coco import import_coco
from segaudit.models.data.importers.folder import import_folder
from segaudit.models.data.importers.pennfudan import import_pennfudan

__all__ = ["import_celebamask", "import_coco", "import_folder", "import_pennfudan"]
