"""Paddle notices that say nothing about this package, silenced where they arise rather than for
everyone who imports pointrend."""

from __future__ import annotations

import warnings

# `import paddle` warns on every start that ccache is missing; it concerns compiling Paddle's own
# custom operators, which this package never does.
CCACHE_NOTICE = "No ccache found"
# Paddle's BatchNorm says this on every training forward pass; it describes its only behaviour.
BATCHNORM_NOTICE = "When training, we now always track global mean and variance"


def ignore_ccache_notice() -> None:
    """For command-line programs, before their first `import paddle`."""
    warnings.filterwarnings("ignore", message=CCACHE_NOTICE, category=UserWarning)


def ignore_batchnorm_notice() -> None:
    """Inside a `warnings.catch_warnings()` block that runs training forward passes."""
    warnings.filterwarnings("ignore", message=BATCHNORM_NOTICE, category=UserWarning)
