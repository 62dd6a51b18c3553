"""Write (or, with --check, verify) featviz/catalog.json from the engine's model catalog.

The API validates models, layers, filters and image sizes against this file, so it never needs
TensorFlow. Run it after changing ``featviz_engine.models``:

    .venv/bin/python scripts/generate_catalog.py          # rewrite the file
    .venv/bin/python scripts/generate_catalog.py --check  # exit 1 when it is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).resolve().parent.parent / "featviz" / "catalog.json"
MAX_IMAGE_SIZE = 512


def smallest_image_sizes(model: Any, layer_names: list[str], first_size: int) -> dict[str, int]:
    """Per layer, the smallest square image size whose activation map is at least 5x5."""
    import keras

    from featviz_engine.objectives import min_map_size

    outputs = [model.get_layer(name).output for name in layer_names]
    probe = keras.Model(inputs=model.inputs, outputs=outputs)
    found: dict[str, int] = {}
    # Map sizes only grow with the image, so the first size that works for a layer is its minimum.
    for size in range(first_size, MAX_IMAGE_SIZE + 1):
        shapes = probe.compute_output_shape((1, size, size, 3))
        for name, shape in zip(layer_names, shapes, strict=True):
            if name not in found and min(shape[1], shape[2]) >= min_map_size():
                found[name] = size
        if len(found) == len(layer_names):
            break
    return found


def build_catalog() -> dict[str, Any]:
    from featviz_engine.models import MODELS, list_layers, load_model

    models = {}
    for name, spec in MODELS.items():
        model = load_model(name, "random")
        layers = list_layers(model)
        sizes = smallest_image_sizes(model, [layer.name for layer in layers], spec.min_input_size)
        models[name] = {
            "input_size": spec.input_size,
            "min_input_size": spec.min_input_size,
            "preprocessing": spec.preprocessing,
            "layers": [
                {
                    "name": layer.name,
                    "channels": layer.channels,
                    "min_image_size": sizes.get(layer.name),
                }
                for layer in layers
            ],
        }
    return {"max_image_size": MAX_IMAGE_SIZE, "models": models}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    text = json.dumps(build_catalog(), indent=1) + "\n"
    if args.check:
        if not CATALOG_PATH.exists() or CATALOG_PATH.read_text() != text:
            print(
                f"{CATALOG_PATH} is out of date: run scripts/generate_catalog.py", file=sys.stderr
            )
            return 1
        print(f"{CATALOG_PATH} is up to date")
        return 0
    CATALOG_PATH.write_text(text)
    print(f"wrote {CATALOG_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
