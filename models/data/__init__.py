"""Dataset packages: the format (spec, manifest), loading with validation, writing, and the torch Dataset."""

from segaudit.models.data.package import DatasetPackage, load_package
from segaudit.models.data.spec import UNKNOWN, AttributeSpec, DatasetSpec
from segaudit.models.data.writer import PackageWriter

__all__ = ["UNKNOWN", "AttributeSpec", "DatasetPackage", "DatasetSpec", "PackageWriter", "load_package"]
