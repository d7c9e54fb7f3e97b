"""Ray's Job Submission API (`JobSubmissionClient`) for one cluster, with its errors translated once.

Ray is imported when the first call needs it: a server without Ray jobs never loads it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from trainplane.domain import errors
from trainplane.executors.ray.resources import Resources

_log = logging.getLogger(__name__)
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})


@dataclass(frozen=True)
class RayJobState:
    """A Ray job as Ray reports it: PENDING, RUNNING, SUCCEEDED, FAILED or STOPPED, and why."""

    status: str
    message: str

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class RayJobs:
    """One Ray cluster's jobs, addressed by submission id. Thread-safe."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._client: Any = None
        self._lock = threading.Lock()

    def submit(
        self, submission_id: str, entrypoint: str, resources: Resources, env_vars: Mapping[str, str]
    ) -> bool:
        """Submit the job under `submission_id`; False if Ray already has it (a retried launch).

        Raises:
            errors.Unavailable: Ray refused the job or does not answer.
        """
        client = self._connected()
        with self._translated("submit"):
            try:
                self._submit(client, submission_id, entrypoint, resources, env_vars)
            except RuntimeError as exc:
                if "status code 400" in str(exc) and f"{submission_id} already exists" in str(exc):
                    return False
                raise
        return True

    def _submit(
        self,
        client: Any,
        submission_id: str,
        entrypoint: str,
        resources: Resources,
        env_vars: Mapping[str, str],
    ) -> None:
        client.submit_job(
            entrypoint=entrypoint,
            submission_id=submission_id,
            runtime_env={"env_vars": dict(env_vars)},
            entrypoint_num_cpus=resources.num_cpus,
            entrypoint_num_gpus=resources.num_gpus,
            entrypoint_memory=resources.memory_bytes or None,
            metadata={"trainplane": "1"},
        )

    def state(self, submission_id: str) -> RayJobState | None:
        """The job's state; None when Ray does not know it. Raises: errors.Unavailable."""
        client = self._connected()
        with self._translated("status"):
            try:
                info = client.get_job_info(submission_id)
            except RuntimeError as exc:
                if _is_not_found(exc):
                    return None
                raise
        return RayJobState(str(getattr(info.status, "value", info.status)), info.message or "")

    def stop(self, submission_id: str) -> bool:
        """Ask Ray to stop the job (its own SIGTERM, wait, SIGKILL); False if it had ended."""
        client = self._connected()
        with self._translated("stop"):
            return bool(client.stop_job(submission_id))

    def close(self) -> None:
        with self._lock:
            session = getattr(self._client, "_session", None)
            if session is not None:
                session.close()
            self._client = None

    def _connected(self) -> Any:
        with self._lock:
            if self._client is None:
                with self._translated("connect"):
                    from ray.job_submission import JobSubmissionClient

                    self._client = JobSubmissionClient(self.address)
            return self._client

    @contextlib.contextmanager
    def _translated(self, operation: str) -> Iterator[None]:
        """Connection failures and refusals become errors.Unavailable, naming the cluster."""
        try:
            yield
        except (OSError, RuntimeError, ValueError) as exc:  # requests' errors are OSErrors
            _log.warning(
                "event=ray_call_failed operation=%s address=%s error=%s", operation, self.address, exc
            )
            raise errors.Unavailable(f"Ray at {self.address}: {operation} failed: {exc}") from exc


def _is_not_found(exc: RuntimeError) -> bool:
    # JobSubmissionClient raises RuntimeError("Request failed with status code 404: ...") for an unknown id.
    return "status code 404" in str(exc)
