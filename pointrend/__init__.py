"""PointRend semantic segmentation for PaddlePaddle."""
import warnings

# `import paddle` warns about a missing ccache on every start; it concerns compiling Paddle's own
# custom operators, which this package does not do.
warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)
# Paddle's BatchNorm says this on every training forward pass; it describes Paddle's only behaviour.
warnings.filterwarnings("ignore", message="When training, we now always track global mean and variance",
                        category=UserWarning)

__version__ = "0.1.0"


def __getattr__(name: str):
    # Imported on first use: `import pointrend` stays light (no Paddle) for the data tools.
    if name == "load_checkpoint":
        from pointrend.app.checkpoints import load_checkpoint

        return load_checkpoint
    raise AttributeError(f"module 'pointrend' has no attribute {name!r}")
