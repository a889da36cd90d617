"""A new oracle learns the real posters of recent blocks at start (``canary_learn_blocks``),
so its first canaries need not wait ``canary_settle_blocks`` for a poster it saw itself."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from nacl.signing import SigningKey

from oracle.daemon import Oracle
from oracle.state import OracleState
from tests.oracle._node import ORACLE1, POSTER, market_node, post_job
from tests.oracle.conftest import Models
from tests.oracle.test_daemon import PROMPT, SETTLED, make_oracle

SETTLE = 2


def test_a_new_oracle_knows_the_settled_posters_of_recent_blocks(
    tmp_path: Path, models: Models
) -> None:
    with market_node(tmp_path / "node", models) as net:
        first = post_job(net, SETTLED, PROMPT)
        second = post_job(net, POSTER, PROMPT)
        at = int(net.job(first)["posted_height"])
        later = int(net.job(second)["posted_height"])
        assert later > at
        net.wait_for(lambda: net.client.latest_height() >= later + SETTLE)

        def oracle(name: str, learn: int) -> Oracle:
            o = make_oracle(
                net,
                tmp_path / name,
                ORACLE1,
                SigningKey.generate(),
                canaries=True,
                canary_settle_blocks=SETTLE,
                canary_learn_blocks=learn,
            )
            o.open()
            return o

        fresh = oracle("learned", 300)
        settled = [a for a, _ in fresh.canaries.settled()]
        assert settled == [SETTLED.bech32, POSTER.bech32]  # in the order they first posted
        assert fresh.state.user_jobs_seen == 2
        blind = oracle("blind", 0)  # learns only from blocks it follows: none yet
        assert blind.canaries.settled() == []

        # the window: the blocks after tip - n, up to the tip
        def learned(n: int, tip: int) -> set[str]:
            st = OracleState(last_height=tip)
            fresh.cfg = dataclasses.replace(fresh.cfg, canary_learn_blocks=n)
            fresh.learn_posters(st)
            return set(st.posters)

        tip = later + SETTLE
        assert learned(tip - at + 1, tip) == {SETTLED.bech32, POSTER.bech32}  # reaches `at`
        assert learned(tip - at, tip) == {POSTER.bech32}  # one block short of it
        assert learned(tip - later, tip) == set()
