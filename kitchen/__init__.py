"""The kitchen: a Celery app whose workers cook the dishes that waiters order."""
