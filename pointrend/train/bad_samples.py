"""The run folder's record of the samples a run left out (data.on_bad_sample="skip").

output_dir/bad_samples.json lists every file left out, once per file and stage ("training",
"evaluation at iteration 200", "evaluation of iter_0000200"...), with the cause and how often
it was met; later stages and resumed runs add to it. The same list is printed.
Samples are given as {"path", "cause"} dicts, as evaluate_dataset's results carry them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pointrend.data.sample_errors import SampleError
from pointrend.utils.output_files import write_text_atomically

BAD_SAMPLES_FILE = "bad_samples.json"


def as_entries(errors: Sequence[SampleError]) -> list[dict[str, str]]:
    return [{"path": error.path, "cause": error.message()} for error in errors]


def unique_files(skipped: Sequence[dict[str, str]]) -> dict[str, tuple[str, int]]:
    """{path: (cause, times met)} in the order the files were first met."""
    files: dict[str, tuple[str, int]] = {}
    for entry in skipped:
        cause, count = files.get(entry["path"], (entry["cause"], 0))
        files[entry["path"]] = (cause, count + 1)
    return files


def describe_skipped(skipped: Sequence[dict[str, str]], stage: str) -> list[str]:
    """Lines naming every file left out during `stage` (none when nothing was left out)."""
    files = unique_files(skipped)
    if not files:
        return []
    lines = [f"{stage}: {len(skipped)} bad sample(s) left out ({len(files)} file(s)):"]
    lines += [
        f"  {cause}" + (f" (met {count} times)" if count > 1 else "")
        for cause, count in files.values()
    ]
    return lines


def record_skipped(
    output_dir: str | Path, skipped: Sequence[dict[str, str]], stage: str, rank: int = 0
) -> Path | None:
    """Add the samples left out during `stage` to output_dir/bad_samples.json
    (bad_samples.rank<r>.json for the other ranks of a data-parallel run, which may write at the
    same time); the file's path, None when nothing was left out."""
    files = unique_files(skipped)
    if not files:
        return None
    name = BAD_SAMPLES_FILE if rank == 0 else BAD_SAMPLES_FILE.replace(".json", f".rank{rank}.json")
    path = Path(output_dir) / name
    entries = read_skipped(path)
    known = {(entry["path"], entry["stage"]): entry for entry in entries}
    for file, (cause, count) in files.items():
        entry = known.get((file, stage))
        if entry is None:
            entries.append({"path": file, "stage": stage, "cause": cause, "count": count})
        else:
            entry["count"] += count
    write_text_atomically(path, json.dumps({"skipped": entries}, indent=2) + "\n")
    return path


def report_skipped(
    skipped: Sequence[dict[str, str]], stage: str, output_dir: str | Path, rank: int = 0
) -> Path | None:
    """Print the samples left out during `stage` and record them in the run folder."""
    path = record_skipped(output_dir, skipped, stage, rank)
    if path is not None:
        print("\n".join(describe_skipped(skipped, stage)) + f"\n(listed in {path})", flush=True)
    return path


def read_skipped(path: str | Path) -> list[dict]:
    """The entries of a bad_samples.json ([] when there is none yet)."""
    try:
        return list(json.loads(Path(path).read_text(encoding="utf-8"))["skipped"])
    except FileNotFoundError:
        return []
