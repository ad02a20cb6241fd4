"""datacur: build, clean, score and compare datasets for a fixed model."""

__version__ = "0.1.0"
__all__ = ["__version__"]
