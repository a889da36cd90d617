"""Compute shared by the worker and the oracle: the job spec, the job runtime and the sandbox.

* ``compute.jobspec``: a chain job → the runtime's job.json (``runtime_job`` → ``RuntimeJob``);
* ``compute.runtime``: ``python -m compute.runtime``, the one program that runs a job (the
  only part inside the job image), and its pieces the oracle reuses (``tasks.lm_batch``,
  ``tasks.pooling``, ``models.materialize``, ``spec.check_params``);
* ``compute.sandbox``: the docker and process sandboxes and ``execute_job``;
* ``compute.image``: the job image's tag; ``compute.minilm``: where the oracle's text
  model is installed.

It imports neither ``worker`` nor ``oracle``.
"""
