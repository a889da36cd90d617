"""The marketplace on a running node, over its RPC, for the worker agent tests and the
end-to-end tests (the in-process one, driving an App block by block, is
``tests/support/market.py``).

``NodeMarket(node, artifacts, store_dir)``: the node, its artifact store's URL and blob
folder, and a client:

* ``post(...)``: a job posted as alice, its input inline or an artifact.
* ``job(id)``, ``all_jobs()``, ``count(state)``: jobs as the node reports them.
* ``wait_state(id, states, timeout)``: until the job reaches one of ``states``; a process
  in ``daemons`` that died fails the wait at once.
* ``events(type, id)``, ``job_events(id)``, ``all_events(first)``: the events of every
  block (successful txs and the block's own), as attribute maps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chain.client import NodeClient, QueryFailed, TxResponse
from chain.coins import DECIMALS
from genesis.devnet import dev_key
from modules.jobs.msgs import MsgPostJob
from tests.support.nodes import NodeProc
from tests.support.wait import wait_for

ALICE = dev_key("alice")
PRICE = 5 * 10**DECIMALS  # what ``post`` offers unless told


@dataclass
class NodeMarket:
    node: NodeProc
    artifacts: str  # the artifact store's base URL
    store_dir: Path  # the folder the store keeps its blobs in
    poll: float = 0.2  # seconds between two looks in ``wait_state``
    # processes (with ``proc``, ``alive()``, ``name``, ``tail()``) that must stay up
    daemons: list[Any] = field(default_factory=list)
    client: NodeClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = NodeClient(self.node.rpc)

    # -- jobs ---------------------------------------------------------------------------
    def post(
        self,
        inline: dict[str, Any] | None = None,
        *,
        model: str = "tiny-lm",
        task: str = "text-generation",
        spec: str = "",
        price: int = PRICE,
        result_blocks: int = 0,
        input_hash: str = "",
    ) -> int:
        """Post a job as alice; its input inline, or the artifact ``input_hash``."""
        doc = inline if inline is not None else {"prompts": ["Hello world"]}
        msg = MsgPostJob(
            poster=ALICE.bech32,
            task_type=task,
            model=model,
            input_hash=input_hash,
            inline_input=b"" if input_hash else json.dumps(doc).encode(),
            spec=spec,
            max_price=str(price),
            result_blocks=result_blocks,
        )
        resp: TxResponse = self.client.send_tx(ALICE, [msg], gas="auto")
        return int(resp.attributes("JobPosted", "job_id")[0])

    def job(self, job_id: int) -> dict[str, Any]:
        out: dict[str, Any] = self.client.query("jobs", "job", {"id": str(job_id)})
        return out

    def all_jobs(self) -> list[dict[str, Any]]:
        """Every job on chain, canaries included (ids run from 1 without gaps)."""
        jobs, job_id = [], 1
        while True:
            try:
                jobs.append(self.job(job_id))
            except QueryFailed:  # no such job: past the last one
                return jobs
            job_id += 1

    def count(self, state: str) -> int:
        return len(self.client.query("jobs", "jobs", {"state": state, "limit": 200})["jobs"])

    def wait_state(self, job_id: int, states: tuple[str, ...], timeout: float) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            for d in self.daemons:
                if d.proc is not None:
                    assert d.alive(), f"{d.name} died:\n{d.tail()}"
            j = self.job(job_id)
            return j if j["state"] in states else None

        got: dict[str, Any] = wait_for(
            f"job {job_id} to be {'/'.join(states)}", reached, timeout, self.poll
        )
        return got

    # -- events -------------------------------------------------------------------------
    def all_events(self, first: int = 1) -> Iterator[tuple[int, str, dict[str, str]]]:
        """Every event of every block from ``first`` on: (height, type, attributes)."""
        top = self.client.latest_height()
        for h in range(first, top + 1):
            r = self.client.block_results(h)
            evs = [e for t in r.get("txs_results") or [] if t["code"] == 0 for e in t["events"]]
            evs += r.get("finalize_block_events") or []
            for e in evs:
                yield h, e["type"], {a["key"]: a["value"] for a in e["attributes"]}

    def job_events(self, job_id: int) -> list[tuple[int, str, dict[str, str]]]:
        """(height, type, attributes) of every event that names ``job_id``."""
        return [e for e in self.all_events() if e[2].get("job_id") == str(job_id)]

    def events(self, event_type: str, job_id: int) -> list[dict[str, str]]:
        """Attribute maps of every ``event_type`` event for ``job_id``."""
        return [a for _, t, a in self.job_events(job_id) if t == event_type]
