"""What an uploaded model offers jobs, and the error that refuses one: the words the sandboxed
check (``model_validation``) and the loader (``uploaded_models``) share, without TensorFlow, so
that the check can refuse a hostile archive before it imports TensorFlow at all."""

from __future__ import annotations

from dataclasses import dataclass

from featviz.limits import RefusedError


class ModelRejectedError(RefusedError):
    """An uploaded file that featviz cannot use; the message is the reason users see."""


@dataclass(frozen=True)
class UploadedLayer:
    """A layer of an upload that jobs may visualise."""

    name: str
    layer_type: str
    """The Keras class, such as ``Conv2D``."""
    channels: int
    output_shape: tuple[int | None, ...]
    """Height, width and channels as the model declares them: None where any size goes."""
    min_image_size: int | None
    """The smallest image size giving an activation map of at least 5x5; None when no
    accepted size is enough."""


@dataclass(frozen=True)
class UploadedCatalog:
    """What an upload offers jobs."""

    input_size: int | None
    """The one image size the model takes; None when any size goes."""
    min_input_size: int
    layers: tuple[UploadedLayer, ...]
