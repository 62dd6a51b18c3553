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


def build_catalog() -> dict[str, Any]:
    from featviz_engine.models import MODELS, list_layers, load_model, smallest_image_sizes

    models = {}
    for name, spec in MODELS.items():
        model = load_model(name, "random")
        layers = list_layers(model)
        sizes = smallest_image_sizes(
            model, [layer.name for layer in layers], spec.min_input_size, MAX_IMAGE_SIZE
        )
        models[name] = {
            "input_size": spec.input_size,
            "min_input_size": spec.min_input_size,
            "preprocessing": spec.preprocessing,
            "weights": list(spec.weights),
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
