"""The job queue and the worker that runs long jobs: imports, rebuilds, embedding."""
