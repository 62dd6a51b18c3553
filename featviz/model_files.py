"""The model files users bring, uploaded or used locally: a Keras 3 ``.keras`` file and the
input range it declares.

The upload API and the command line (``featviz render --model-file``, ``featviz models inspect``)
take the same files and ranges from here; this module needs neither Redis nor TensorFlow, so the
command line can use it with the engine installed and no service.
"""

from __future__ import annotations

from typing import Literal

InputRange = Literal["[0,1]", "[-1,1]", "[0,255]", "caffe", "torch", "tf"]
INPUT_RANGES: tuple[InputRange, ...] = ("[0,1]", "[-1,1]", "[0,255]", "caffe", "torch", "tf")
"""The values a user's model may expect, as pixel ranges or ``keras.applications``
preprocessing modes; ``featviz_engine.models.INPUT_MAPPINGS`` maps the optimiser's [-1, 1] RGB
images to each (a test keeps the two in step, and the SDK's copy)."""
INPUT_RANGE_MEANING = (
    "the values the model expects: a pixel range, or the keras.applications preprocessing it "
    "was trained with (caffe, torch, tf)"
)
"""What ``input_range`` means, for the upload form's schema and the command line's help."""

MODEL_FILE_SUFFIX = ".keras"
MODEL_FILE_FORMAT = "Keras 3 format"
NOT_A_MODEL_FILE = f"must be a {MODEL_FILE_SUFFIX} file ({MODEL_FILE_FORMAT})"
"""Why a file of another name is refused, before it is read."""
