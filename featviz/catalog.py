"""The static model catalog: models, their layers and channel counts, without TensorFlow.

``catalog.json`` is generated from ``featviz_engine.models`` by ``scripts/generate_catalog.py``
and checked in; a test keeps the two in sync.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from pydantic import BaseModel, Field

UPLOADED_MODEL_ID_PREFIX = "mdl_"
_UPLOADED_MODEL_ID = re.compile(rf"^{UPLOADED_MODEL_ID_PREFIX}[0-9a-f]{{28}}$")


def is_uploaded_model_id(name: str) -> bool:
    """Whether a job's ``model`` names an uploaded model (resolved per key) or the catalog."""
    return _UPLOADED_MODEL_ID.match(name) is not None


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
    weights: list[str] = Field(
        default_factory=list,
        description="the weights it can be loaded with: imagenet and random for every catalog "
        "model, hed-bsds500 (HED's trained VGG16 conv layers, offline) for vgg16; empty for "
        "uploaded models, which bring their own",
    )
    layers: list[CatalogLayer]
    fixed_input_size: int | None = Field(
        default=None,
        description="the only image size the model accepts (uploaded models with a fixed "
        "input); null when any size from min_input_size goes",
    )

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
