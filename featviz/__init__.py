"""featviz: what the API, the worker and the command line share. Never imports TensorFlow."""

__version__ = "0.1.0"
