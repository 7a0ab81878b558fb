"""Dataset packages: the format (spec, manifest), loading with validation, writing, and the torch Dataset."""

from models.data.package import DatasetPackage, load_package
from models.data.spec import UNKNOWN, AttributeSpec, DatasetSpec
from models.data.writer import PackageWriter

__all__ = ["UNKNOWN", "AttributeSpec", "DatasetPackage", "DatasetSpec", "PackageWriter", "load_package"]
