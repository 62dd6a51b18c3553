"""The featviz HTTP API (v1): FastAPI, bearer keys, RFC 9457 errors. Never imports TensorFlow."""
