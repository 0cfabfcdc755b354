"""Errors of the data layer; each names the file (and field) at fault and what to do."""


class SpecError(ValueError):
    """A dataset description (dataset.json or a preset) that cannot be used as written."""

    def __init__(self, path: str, field: str, problem: str) -> None:
        super().__init__(f"{path}: field '{field}': {problem}")
        self.path = path
        self.field = field
        self.problem = problem

    def __reduce__(self):  # DataLoader workers pickle exceptions; the default needs one argument
        return type(self), (self.path, self.field, self.problem)


class DataFileError(ValueError):
    """One image or mask file that cannot be used: unreadable, wrong kind, wrong values or size."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path

    def __reduce__(self):  # DataLoader workers pickle exceptions; the default needs one argument
        return type(self), (self.path, str(self))


class PairingError(ValueError):
    """Images and masks of a split that do not pair up one to one (or a split without images)."""
