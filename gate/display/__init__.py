"""Filled by a later issue (see the design's parts)."""
