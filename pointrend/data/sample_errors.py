"""Read samples inside a paddle DataLoader without ever raising there; raise in the main thread.

An exception raised by a dataset's __getitem__ inside paddle's DataLoader hangs the process
forever with num_workers=0 (the reader thread dies, the main thread waits on its queue) and ends
in "Blocking queue is killed" tracebacks with workers. So the reader turns every failure into a
picklable SampleError record, the collate function carries the records next to the batch, and
SampleErrorCheck (an iterable with __len__, which hapi's fit and evaluate accept) raises
BadSampleError with one line naming the file -- or, with on_bad_sample="skip", drops those
samples and remembers them.
"""

import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import paddle

from pointrend.utils.loader_workers import ClosingLoader
from pointrend.utils.setting_names import NamesSettings

ON_BAD_SAMPLE = ("error", "skip")


@dataclass(frozen=True)
class SampleError:
    """What went wrong with one sample: its index, the file at fault and the cause (one line).

    key: what the sampler asked for when it is not the plain index (the Trainer's (index, seed)).
    """

    index: int
    path: str
    cause: str
    key: Any = None

    def message(self) -> str:
        return self.cause if self.path in self.cause else f"{self.path}: {self.cause}"


class BadSampleError(NamesSettings, RuntimeError):
    """A sample that could not be read during a run; the message names the file.

    context: where it was met and what to do, appended in parentheses; fields: the settings it
    names (see `NamesSettings`).
    """

    def __init__(self, error: SampleError, context: str = "", fields: Sequence[str] = ()) -> None:
        super().__init__(error.message() + (f" ({context})" if context else ""), fields)
        self.error = error
        self.context = context


class ErrorsAsData(paddle.io.Dataset):
    """`dataset` whose items are the sample, or a SampleError instead of an exception."""

    def __init__(self, dataset: Any) -> None:
        super().__init__()
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: Any) -> Any:
        try:
            return self.dataset[key]
        except Exception as error:  # noqa: BLE001 -- any failure must reach the main thread as data
            return sample_error(self.dataset, key, error)

    def __getattr__(self, name: str) -> Any:
        # Attributes such as class_names or image_paths stay reachable through the wrapper.
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


def sample_error(dataset: Any, key: Any, error: BaseException) -> SampleError:
    """The SampleError of `error` raised while reading item `key` of `dataset` (an index, or a
    tuple whose first element is the index, like the Trainer's (index, seed))."""
    index = int(key[0]) if isinstance(key, tuple) else int(key)
    path = getattr(error, "path", None) or _image_path(dataset, index)
    cause = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if not cause or not isinstance(error, (ValueError, OSError)):
        # An unexpected error (a bug, not a bad file): keep where it happened.
        frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
        where = f" at {frame.filename}:{frame.lineno}" if frame else ""
        cause = (
            f"{type(error).__name__}{where}: {cause}" if cause else f"{type(error).__name__}{where}"
        )
        cause = f"reading sample {index} ({path}) failed: {cause}"
    return SampleError(index, path, cause, key if isinstance(key, tuple) else None)


def _image_path(dataset: Any, index: int) -> str:
    # Wrappers such as the Trainer's SeededSamples keep the real dataset as `.dataset`.
    while getattr(dataset, "image_paths", None) is None and hasattr(dataset, "dataset"):
        dataset = dataset.dataset
    paths = getattr(dataset, "image_paths", None)
    return str(paths[index]) if paths is not None and 0 <= index < len(paths) else f"sample {index}"


def collate_with_errors(batch: Sequence[Any]) -> list[Any]:
    """[stacked field, ..., errors]: the good samples stacked per field, then a list of SampleError.

    A batch of only bad samples gets a one-element placeholder array instead of fields: paddle's
    DataLoader silently ends the epoch on a batch without any array.
    """
    errors = [item for item in batch if isinstance(item, SampleError)]
    good = [item for item in batch if not isinstance(item, SampleError)]
    if not good:
        return [np.zeros((1,), dtype=np.uint8), errors]
    try:
        fields = [np.stack([np.asarray(item[k]) for item in good]) for k in range(len(good[0]))]
    except (ValueError, TypeError) as error:
        # Samples of different sizes in one batch: a data problem, reported like the others.
        shapes = sorted({tuple(np.shape(item[0])) for item in good})
        cause = (
            f"samples of one batch cannot be stacked ({error}); shapes {shapes}: use batch_size=1 "
            "or a crop"
        )
        return [np.zeros((1,), dtype=np.uint8), errors + [SampleError(-1, "batch", cause)]]
    return [*fields, errors]


class SampleErrorCheck:
    """Iterate a DataLoader built with ErrorsAsData + collate_with_errors, in the main thread.

    on_bad_sample="error": the first SampleError raises BadSampleError (the loader is shut down
    by leaving the loop). "skip": bad samples are dropped and kept in `skipped`; a batch with no
    good sample left is skipped whole, or, with `replace_all_bad`, replaced by what it returns
    for the batch's errors (a tuple of fields; it may add to `skipped`).
    """

    def __init__(
        self,
        loader: Iterable,
        on_bad_sample: str = "error",
        replace_all_bad: Callable[[list[SampleError]], tuple[Any, ...]] | None = None,
    ) -> None:
        if on_bad_sample not in ON_BAD_SAMPLE:
            raise ValueError(
                f"on_bad_sample is {on_bad_sample!r}; use one of {list(ON_BAD_SAMPLE)}"
            )
        self.loader = loader
        self.on_bad_sample = on_bad_sample
        self.replace_all_bad = replace_all_bad
        self.skipped: list[SampleError] = []

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        try:
            for batch in self.loader:
                *fields, errors = batch
                if errors and self.on_bad_sample == "error":
                    raise BadSampleError(errors[0])
                self.skipped += errors
                if len(fields) == 1 and errors and _is_placeholder(fields[0]):
                    if self.replace_all_bad is None:
                        continue
                    fields = self.replace_all_bad(errors)
                yield tuple(fields)
        finally:
            self.close()

    def close(self) -> None:
        """End the loader's worker processes now. Left to the interpreter's exit (the traceback
        of an error keeps the iterator alive), paddle's clean-up can block forever."""
        shutdown = getattr(self.loader, "shutdown", None)
        if shutdown is not None:
            shutdown()

    def __enter__(self) -> None:
        """`with loader:` ends the workers when the block ends, however it ends."""

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _is_placeholder(field: Any) -> bool:
    return list(field.shape) == [1] and str(field.dtype).endswith("uint8")


def error_safe_loader(
    dataset: Any, on_bad_sample: str = "error", **loader_kwargs: Any
) -> SampleErrorCheck:
    """paddle.io.DataLoader over `dataset` that never hangs on a bad sample (see the module doc)."""
    loader = paddle.io.DataLoader(
        ErrorsAsData(dataset),
        # Paddle's type for collate_fn lists the overloads of its default collate only; the
        # loader calls any function of a batch.
        collate_fn=collate_with_errors,  # type: ignore[arg-type]
        return_list=True,
        **loader_kwargs,
    )
    return SampleErrorCheck(ClosingLoader(loader), on_bad_sample)
