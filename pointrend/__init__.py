"""PointRend semantic segmentation for PaddlePaddle."""
import warnings

# `import paddle` warns about a missing ccache on every start; it concerns compiling Paddle's own
# custom operators, which this package does not do.
warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)

__version__ = "0.1.0"
