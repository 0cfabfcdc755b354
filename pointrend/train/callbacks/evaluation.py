"""Periodic evaluation on the validation set: a table on stdout and one JSON file per run."""

from __future__ import annotations

import os
from typing import Any, cast

from pointrend.data.sample_errors import BadSampleError
from pointrend.inference.evaluate import (
    evaluate_dataset,
    format_results_table,
    write_results_or_warn,
)
from pointrend.train.bad_samples import report_skipped
from pointrend.train.callbacks.base import TrainerCallback
from pointrend.utils.distributed import is_main_process


class PeriodicEvaluation(TrainerCallback):
    """Every `interval` iterations and at the end: `evaluate_dataset` with the evaluation
    weights (`Trainer.evaluation_weights`: the EMA when enabled), on all ranks (each takes its
    share of the images)."""

    def __init__(self, dataset, interval: int, output_dir: str, **evaluate_options: Any) -> None:
        self.dataset = dataset
        self.interval = interval
        self.output_dir = output_dir
        self.evaluate_options = evaluate_options

    def on_iteration_end(self, iteration: int, logs: dict) -> None:
        if not self.is_due(iteration, self.interval):
            return
        self.trainer.ensure_finite_weights()
        saved = self.trainer.saved_iteration == iteration
        try:
            with self.trainer.clock.paused(), self.trainer.evaluation_weights():
                results = evaluate_dataset(
                    self.trainer.network,
                    self.dataset,
                    progress=is_main_process(),
                    **self.evaluate_options,
                )
        except BadSampleError as error:
            raise BadSampleError(
                error.error,
                (
                    f"met by the evaluation at iteration {iteration}, "
                    + ("whose checkpoint is saved" if saved else "which has no checkpoint")
                    + '; fix or remove the file, or set on_bad_sample="skip"'
                ),
                ("on_bad_sample",),
            ) from None
        if is_main_process():
            path = os.path.join(self.output_dir, f"eval_iter_{iteration:07d}.json")
            print(f"evaluation at iteration {iteration}/{self.trainer.max_iters}")
            print(format_results_table(results), flush=True)
            if results.get("pixel_accuracy") is None:
                print(
                    f"warning: the {results.get('num_images')} validation images have no "
                    "labelled pixel (every label pixel is ignore_index): mIoU is undefined at "
                    f"iteration {iteration}, so no best checkpoint can be chosen. Check the val "
                    "labels.",
                    flush=True,
                )
            if write_results_or_warn({"iteration": iteration, **results}, path):
                print(f"results written to {path}", flush=True)
            skipped = cast("list[dict[str, str]]", results.get("skipped", []))
            report_skipped(skipped, f"evaluation at iteration {iteration}", self.output_dir)
        self.trainer.publish_eval_results(iteration, results)
