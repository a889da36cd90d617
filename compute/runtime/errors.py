"""Job failures with stable codes: what result.json reports and the worker puts on chain."""

from __future__ import annotations

# Every code the runtime can report. A caller acts on the code; the message
# tells a person what to fix.
CODES = (
    "bad_job_spec",  # job.json is malformed or has a bad field
    "unknown_task",  # task is not one this runtime runs
    "bad_input",  # the input is not what the task reads, or the task cannot process it
    "input_not_found",  # the input artifact is not in --inputs
    "input_hash_mismatch",  # the input file does not hash to its name
    "model_not_found",  # the model manifest or one of its files is not in --models
    "model_hash_mismatch",  # a model file does not hash to the manifest's digest
    "bad_model",  # the manifest is malformed, or the model cannot run this task
    "runtime_error",  # anything else; a bug or a resource limit
)

EXIT_JOB_ERROR = 2  # the job is at fault (spec, input, model)
EXIT_RUNTIME_ERROR = 1  # the runtime or the machine is at fault


class JobError(Exception):
    def __init__(self, code: str, message: str) -> None:
        if code not in CODES:
            raise ValueError(f"unknown job error code {code}")
        super().__init__(message)
        self.code = code
        self.message = message
