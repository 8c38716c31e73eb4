"""Figures: each module reads result tables only and writes one figure."""
