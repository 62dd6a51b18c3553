"""The Celery worker: claims jobs from the store, runs the engine, writes files to storage."""
