"""The static model catalog: models, their layers and channel counts, without TensorFlow.

``catalog.json`` is generated from ``featviz_engine.models`` by ``scripts/generate_catalog.py``
and checked in; a test keeps the two in sync.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from pydantic import BaseModel, Field


class CatalogLayer(BaseModel):
    """A layer that can be visualised."""

    name: str
    channels: int
    min_image_size: int | None = Field(
        description="smallest image size (px) whose activation map is at least 5x5; "
        "null when even the largest accepted image is too small"
    )


class CatalogModel(BaseModel):
    """One network of the catalog."""

    name: str
    input_size: int = Field(description="the size its ImageNet weights were trained at")
    min_input_size: int
    preprocessing: str
    layers: list[CatalogLayer]

    def layer(self, name: str) -> CatalogLayer | None:
        return next((layer for layer in self.layers if layer.name == name), None)


class Catalog(BaseModel):
    max_image_size: int
    models: dict[str, CatalogModel]


@lru_cache
def load_catalog() -> Catalog:
    """The checked-in catalog, parsed once per process."""
    text = resources.files("featviz").joinpath("catalog.json").read_text()
    raw = json.loads(text)
    models = {name: {"name": name, **entry} for name, entry in raw["models"].items()}
    return Catalog.model_validate({"max_image_size": raw["max_image_size"], "models": models})
