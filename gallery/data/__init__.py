"""Data sources, vectorization and batching shared by the tasks."""
