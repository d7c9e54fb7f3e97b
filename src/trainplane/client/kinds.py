"""One table entry per job kind: its SageMaker operations, wire members and response parsers.

Adding a kind (compilation jobs next) is one `JobKindWire` here; the client's generic job methods
and the CLI's command table are built from these entries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from trainplane.client.compilation import CompilationJob, CompilationJobSummary
from trainplane.client.models import TrainingJob, TrainingJobSummary
from trainplane.domain.status import JobKind

JobT = TypeVar("JobT")
SummaryT = TypeVar("SummaryT")


@dataclass(frozen=True)
class JobKindWire(Generic[JobT, SummaryT]):
    """How one job kind appears on the SageMaker wire; names derive from `noun` (`TrainingJob`)."""

    kind: JobKind
    noun: str
    parse_job: Callable[[Mapping[str, Any]], JobT]  # a Describe answer
    parse_summary: Callable[[Mapping[str, Any]], SummaryT]  # one List entry

    def operation(self, verb: str) -> str:
        """`Create` -> `CreateTrainingJob`; List takes the plural (`ListTrainingJobs`)."""
        return f"{verb}{self.noun}s" if verb == "List" else f"{verb}{self.noun}"

    @property
    def name_member(self) -> str:
        return f"{self.noun}Name"

    @property
    def arn_member(self) -> str:
        return f"{self.noun}Arn"

    @property
    def summaries_member(self) -> str:
        return f"{self.noun}Summaries"

    @property
    def command_noun(self) -> str:
        """The CLI's spelling: `training-job`, as in `create-training-job`."""
        return f"{self.kind.value}-job"


TRAINING: JobKindWire[TrainingJob, TrainingJobSummary] = JobKindWire(
    JobKind.TRAINING, "TrainingJob", TrainingJob.from_wire, TrainingJobSummary.from_wire
)

COMPILATION: JobKindWire[CompilationJob, CompilationJobSummary] = JobKindWire(
    JobKind.COMPILATION, "CompilationJob", CompilationJob.from_wire, CompilationJobSummary.from_wire
)

# Every kind the client speaks, by domain kind.
BY_KIND: Mapping[JobKind, JobKindWire[Any, Any]] = {TRAINING.kind: TRAINING, COMPILATION.kind: COMPILATION}
