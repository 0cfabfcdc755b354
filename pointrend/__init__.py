"""PointRend semantic segmentation for PaddlePaddle."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Imported on first use: `import pointrend` stays light (no Paddle) for the data tools.
    if name == "load_checkpoint":
        from pointrend.app.checkpoints import load_checkpoint

        return load_checkpoint
    raise AttributeError(f"module 'pointrend' has no attribute {name!r}")
