"""Captioning (one-to-many): image → word sequence."""
