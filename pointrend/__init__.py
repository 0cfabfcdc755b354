"""PointRend semantic segmentation for PaddlePaddle."""
__version__ = "0.1.0"
