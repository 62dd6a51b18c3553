"""``/v1/models``: the catalog of networks and their layers."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import OwnerDep
from api.errors import PROBLEM_RESPONSES, ProblemError
from featviz.catalog import CatalogModel, load_catalog
from featviz.problems import problem

router = APIRouter(prefix="/v1/models", tags=["models"], responses=PROBLEM_RESPONSES)


class ModelSummary(BaseModel):
    name: str
    input_size: int
    min_input_size: int
    preprocessing: str
    layer_count: int


@router.get("", response_model=list[ModelSummary])
def list_models(owner: OwnerDep) -> list[ModelSummary]:
    """Every model; ``/v1/models/{name}`` lists its layers."""
    return [
        ModelSummary(**model.model_dump(exclude={"layers"}), layer_count=len(model.layers))
        for model in load_catalog().models.values()
    ]


@router.get("/{name}", response_model=CatalogModel)
def get_model(name: str, owner: OwnerDep) -> CatalogModel:
    """One model with its layers, their channel counts and the smallest image each accepts."""
    model = load_catalog().models.get(name)
    if model is None:
        raise ProblemError(problem(404, "not-found", "Not found", f"no model {name!r}"))
    return model
