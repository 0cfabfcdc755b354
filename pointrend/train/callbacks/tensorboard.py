"""tensorboardX: loss terms, LR, throughput, mIoU, per-class IoU and a few validation pictures."""

from __future__ import annotations

import cv2
import numpy as np
import paddle

from pointrend.inference.visualize import color_prediction, overlay
from pointrend.train.callbacks.base import HapiLogs, IntervalLogger
from pointrend.utils.distributed import is_main_process


class TensorBoardLogger(IntervalLogger):
    """Writes under `log_dir` on rank 0 only. Pictures: photo | ground truth | prediction for
    the first `num_images` items of `val_dataset` (None disables them), at every evaluation."""

    def __init__(
        self, log_dir: str, interval: int = 50, val_dataset=None, num_images: int = 4
    ) -> None:
        super().__init__(interval)
        self.log_dir = log_dir
        self.val_dataset = val_dataset
        self.num_images = num_images if val_dataset is not None else 0
        self.writer = None

    def on_train_begin(self, logs: HapiLogs = None) -> None:
        if is_main_process():
            from tensorboardX import SummaryWriter

            self.writer = SummaryWriter(self.log_dir)
        super().on_train_begin(logs)

    def on_train_end(self, logs: HapiLogs = None) -> None:
        if self.writer is not None:
            self.writer.close()

    def report(self, iteration: int, losses: dict[str, float], rate: float) -> None:
        if self.writer is None:
            return
        for name, value in losses.items():
            self.writer.add_scalar(f"train/{name}", value, iteration)
        self.writer.add_scalar("train/loss", sum(losses.values()), iteration)
        self.writer.add_scalar("train/lr", self.trainer.current_lr(), iteration)
        self.writer.add_scalar(
            "train/images_per_second", rate * self.trainer.global_batch_size, iteration
        )

    def on_eval_results(self, iteration: int, results: dict) -> None:
        if self.writer is None:
            return
        for key in ("mIoU", "boundary_mIoU", "pixel_accuracy"):
            if results.get(key) is not None:
                self.writer.add_scalar(f"val/{key}", results[key], iteration)
        for name, iou in results.get("per_class_IoU", {}).items():
            if iou is not None:
                self.writer.add_scalar(f"val_IoU/{name.replace(' ', '_')}", iou, iteration)
        with self.trainer.clock.paused(), self.trainer.evaluation_weights():
            for index in range(min(self.num_images, len(self.val_dataset))):
                try:
                    picture = self._picture(index)
                except (ValueError, OSError) as error:
                    # A bad val file (left out of the metrics with data.on_bad_sample=skip).
                    print(f"TensorBoard: no picture of val image {index}: {error}", flush=True)
                    continue
                self.writer.add_image(
                    f"val_prediction/{index}", picture, iteration, dataformats="HWC"
                )

    @paddle.no_grad()
    def _picture(self, index: int) -> np.ndarray:
        image, label = self.val_dataset[index][:2]
        network = self.trainer.network
        network.eval()
        logits = network(paddle.to_tensor(image)[None])
        network.train()
        prediction = paddle.argmax(logits, axis=1).numpy()[0]
        photo = cv2.imread(self.val_dataset.image_paths[index], cv2.IMREAD_COLOR)
        if photo is None:
            raise OSError(f"cannot read {self.val_dataset.image_paths[index]}")
        photo = cv2.resize(photo, (prediction.shape[1], prediction.shape[0]))
        palette = getattr(self.val_dataset, "palette", None)
        panels = [
            photo,
            overlay(photo, color_prediction(np.asarray(label), palette)),
            overlay(photo, color_prediction(prediction, palette)),
        ]
        return np.ascontiguousarray(np.concatenate(panels, axis=1)[..., ::-1])
