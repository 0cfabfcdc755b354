"""The loss a log line shows is that of the iterations it reports, the last one included."""

from dataclasses import replace

import pytest
from test_trainer import make_trainer, tiny_recipe

from pointrend.data import generate_synthetic_cityscapes
from pointrend.train.callbacks import TrainerCallback
from pointrend.train.callbacks.base import IntervalLogger


class RecordedReports(IntervalLogger):
    def __init__(self) -> None:
        super().__init__(interval=1)
        self.reports: list[dict] = []

    def report(self, iteration, losses, rate):
        self.reports.append(losses)


class MicroBatchLosses(TrainerCallback):
    """What hapi computed for each micro-batch."""

    def __init__(self) -> None:
        self.losses: list[dict] = []

    def on_train_batch_end(self, step, logs=None):
        self.losses.append(self.trainer.loss_terms(logs or {}))


@pytest.mark.parametrize("accumulate_steps", [1, 2])
def test_each_report_shows_the_loss_of_its_own_iteration(tmp_path, accumulate_steps):
    root = str(tmp_path / "data")
    generate_synthetic_cityscapes(root, num_train=4, num_val=1, size=(64, 128))
    recipe = tiny_recipe(root, str(tmp_path / "run"))
    recipe = replace(
        recipe,
        optim=replace(recipe.optim, accumulate_steps=accumulate_steps),
        schedule=replace(recipe.schedule, iters=3),
    )
    reports, micro_batches = RecordedReports(), MicroBatchLosses()
    make_trainer(recipe, callbacks=[reports, micro_batches]).fit()
    assert len(reports.reports) == 3
    for iteration, shown in enumerate(reports.reports):
        own = micro_batches.losses[
            iteration * accumulate_steps : (iteration + 1) * accumulate_steps
        ]
        assert shown.keys() == own[0].keys()
        for name, value in shown.items():
            assert value == pytest.approx(sum(m[name] for m in own) / accumulate_steps)
