"""Names the client, the server, the executors and the in-job runtime must agree on.

Imports nothing (not even the stdlib): the in-job runtime, which must stay stdlib-only, reads its
handshake names from here, and so does every side of the wire.
"""

from __future__ import annotations

# SageMaker JSON 1.1: the content type of requests and answers, and the X-Amz-Target namespace.
SAGEMAKER_CONTENT_TYPE = "application/x-amz-json-1.1"
SAGEMAKER_TARGET_PREFIX = "SageMaker"
# The text real SageMaker answers Describe* of an unknown name with (a ValidationException).
NOT_FOUND_MESSAGE = "Requested resource not found."

# trainplane's native routes. `{kind}` is a job kind's value (`training`, `compilation`).
NATIVE_PREFIX = "/trainplane/v1"
LOG_ROUTE = NATIVE_PREFIX + "/{kind}-jobs/{name}/logs"
RESUME_ROUTE = (
    NATIVE_PREFIX + "/{kind}-jobs/{name}/resume"
)  # POST {"NewName": ...}: a new job from its checkpoint
NEXT_OFFSET_HEADER = "X-Trainplane-Next-Offset"  # the log offset to ask for next
HEALTH_ROUTE = "/healthz"

# Error answers carry this member beside `__type` and `message`; botocore ignores it, and the
# trainplane client rebuilds the domain error from it instead of parsing the message.
ERROR_DETAIL_MEMBER = "trainplaneError"
ERROR_CLASS_KEY = "class"  # the domain error's class name (`NotFound`, `Invalid`...)

# The job's run directory, shared by the supervisor and the in-job runtime.
CONTROL_DIR_NAME = "control"  # TRAINPLANE_CONTROL_DIR: the checkpoint-complete handshake
CONTROL_DIR_ENV = "TRAINPLANE_CONTROL_DIR"
SUPERVISOR_PID_ENV = "TRAINPLANE_SUPERVISOR_PID"
CHECKPOINT_COMPLETE_FILE = "checkpoint-complete"
# When the job's max runtime ends (epoch seconds), set by its supervisor where there is one (issue 10).
MAX_RUNTIME_DEADLINE_ENV = "TRAINPLANE_MAX_RUNTIME_DEADLINE"
JOB_BASE_DIR_NAME = "base"  # SAGEMAKER_BASE_DIR: the job's /opt/ml and working directory
