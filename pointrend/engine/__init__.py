"""Training and evaluation machinery.

Training: `trainer.Trainer` (iteration schedule on paddle.Model), `callbacks` (evaluation,
checkpoints, EMA, logging), `optim`, `sampler`, `checkpoint`, `device`, `distributed`, and
`build` / `commands`, which turn a `pointrend.recipe.Recipe` into those objects and run them.
Evaluation: `metrics`, `inference`, `evaluate`, `predict`, `export`, `visualize`.

Submodules are imported explicitly (`from pointrend.engine.trainer import Trainer`) so that
importing one part does not pull in the others.
"""
