"""Download the ImageNet weights of every catalog model into Keras' cache.

Run on a machine with internet access (the worker image runs it at build time), then copy
``$KERAS_HOME/models`` (default ``~/.keras/models``) to offline workers.

    python scripts/fetch_weights.py [MODEL ...]
"""

from __future__ import annotations

import sys

from featviz_engine.models import MODELS, keras_cache_dir, load_model


def main(names: list[str]) -> int:
    for name in names or list(MODELS):
        load_model(name, "imagenet")
        print(f"{name}: {keras_cache_dir() / MODELS[name].imagenet_weights_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
