"""One thing wrong with a dataset, as check reports and the dataset raises it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    kind: str
    path: str
    detail: str
    fix: str

    def message(self) -> str:
        return f"{self.kind}: {self.path}: {self.detail}; {self.fix}"
