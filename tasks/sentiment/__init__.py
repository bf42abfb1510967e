"""Sentiment (many-to-one): review text → positive/negative."""
