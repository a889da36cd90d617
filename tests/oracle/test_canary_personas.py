"""What canary personas imitate, and how their state is kept (no node): the real
posters the oracle has seen (``OracleState.note_poster``), which of them have settled,
how a persona's job count and gaps are drawn from them (``oracle.canary_flow``), and
the state file's personas, including one written before personas existed."""

from __future__ import annotations

import json
import random
from collections import Counter

from oracle import state as state_mod
from oracle.canary_flow import (
    MAX_IMITATED_DELAY,
    draw_gap,
    model_poster,
    starts_persona,
)
from oracle.state import CanaryRecord, OracleState, Persona, PosterSeen


def test_a_poster_is_counted_and_its_gaps_kept() -> None:
    st = OracleState()
    st.note_poster("a", 10)
    st.note_poster("b", 11)
    st.note_poster("a", 14)
    st.note_poster("a", 14)  # two jobs in one block
    assert st.posters == {"a": PosterSeen(10, 14, 3), "b": PosterSeen(11, 11, 1)}
    assert st.gaps == [4, 0]


def test_posters_and_gaps_are_bounded_the_idlest_poster_forgotten_first() -> None:
    st = OracleState()
    for i in range(state_mod.MAX_POSTERS):
        st.note_poster(f"p{i}", 100 + i)
    st.note_poster("p0", 5_000)  # p0 is busy again; p1 is now the idlest
    st.note_poster("new", 5_001)
    assert len(st.posters) == state_mod.MAX_POSTERS
    assert "p1" not in st.posters and "p0" in st.posters and "new" in st.posters
    for h in range(state_mod.MAX_GAPS + 10):
        st.note_poster("p0", 5_001 + h)
    assert len(st.gaps) == state_mod.MAX_GAPS and st.gaps[-1] == 1


def test_a_poster_has_settled_once_idle_long_enough_in_a_fixed_order() -> None:
    st = OracleState()
    st.note_poster("b", 10)
    st.note_poster("a", 10)
    st.note_poster("c", 30)
    assert [a for a, _ in st.settled_posters(now=40, idle_blocks=30)] == ["a", "b"]
    assert [a for a, _ in st.settled_posters(now=39, idle_blocks=30)] == []
    assert [a for a, _ in st.settled_posters(now=60, idle_blocks=30)] == ["a", "b", "c"]


def settled(counts: list[int]) -> list[tuple[str, PosterSeen]]:
    return [(f"p{i}", PosterSeen(i, i, n)) for i, n in enumerate(counts)]


def test_no_persona_starts_while_no_poster_has_settled() -> None:
    rng = random.Random(1)
    assert not any(starts_persona([], rng) for _ in range(100))
    assert model_poster([], rng) is None


def test_personas_start_one_in_jobs_per_poster_so_canaries_keep_to_the_rate() -> None:
    rng = random.Random(2)
    posters = settled([1, 2, 3, 2])  # 8 jobs by 4 posters: a persona posts 2 on average
    started = sum(starts_persona(posters, rng) for _ in range(20_000))
    assert abs(started / 20_000 - 0.5) < 0.02
    assert all(starts_persona(settled([1, 1]), rng) for _ in range(100))


def test_a_persona_imitates_each_settled_poster_alike_not_each_job() -> None:
    rng = random.Random(3)
    posters = settled([1, 4])  # 5 jobs: drawing by job would pick the busy one 4 times in 5
    counts: Counter[int] = Counter()
    for _ in range(10_000):
        m = model_poster(posters, rng)
        assert m is not None and m[1] is dict(posters)[m[0]]
        counts[m[1].jobs] += 1
    assert abs(counts[4] / 10_000 - 0.5) < 0.02, counts


def test_gaps_are_drawn_from_all_posters_gaps_and_capped() -> None:
    rng = random.Random(4)
    gaps = [3, 5, 5, 10**6]
    drawn = Counter(draw_gap(gaps, rng) for _ in range(4_000))
    assert set(drawn) == {3, 5, MAX_IMITATED_DELAY}
    assert abs(drawn[5] / 4_000 - 0.5) < 0.03
    assert draw_gap([], rng) == 0


def test_personas_posters_and_gaps_survive_the_state_file() -> None:
    st = OracleState(chain_id="c", last_height=50)
    st.note_poster("a", 10)
    st.note_poster("a", 17)
    st.personas[1] = Persona(1, "ab" * 32, "vc1persona", 3, planned=2, posted=1, last_job=9)
    st.next_persona = 2
    st.canaries[1] = CanaryRecord(1, "posted", "ab" * 32, "vc1persona", {}, persona=1, job_id=9)
    st.canaries[2] = CanaryRecord(2, "prepared", "ab" * 32, "vc1persona", {}, persona=1, index=1)
    doc = json.loads(json.dumps(st.to_json()))
    back = OracleState.from_json(doc)
    assert back == st
    assert back.to_json() == doc and doc["version"] == state_mod.VERSION


def test_a_version_1_state_file_gives_each_canary_a_persona_of_its_own() -> None:
    """An oracle upgraded mid-canary: each canary of the old file had a key of its own; it
    is posted (or found posted) and swept as before, as a persona of one canary."""
    old = {
        "version": 1,
        "chain_id": "c",
        "last_height": 40,
        "canaries": [
            {
                "local_id": 3,
                "stage": "committed",
                "poster_secret": "01" * 32,
                "poster": "vc1one",
                "msg": {},
                "job_id": 12,
                "posted_height": 30,
            },
            {
                "local_id": 4,
                "stage": "funded",
                "poster_secret": "02" * 32,
                "poster": "vc1two",
                "msg": {},
            },
        ],
        "next_canary": 5,
    }
    st = OracleState.from_json(old)
    one, two = st.canaries[3], st.canaries[4]
    assert (one.persona, two.persona) == (1, 2) and one.index == two.index == 0
    assert st.personas[1] == Persona(
        1,
        "01" * 32,
        "vc1one",
        1,
        planned=1,
        posted=1,
        last_posted=30,
        last_job=12,
        ended="posted all",
    )
    assert st.personas[2] == Persona(2, "02" * 32, "vc1two", 1, planned=1)
    assert st.next_persona == 3
    assert st.poster_addresses() == {"vc1one", "vc1two"}
    assert OracleState.from_json(json.loads(json.dumps(st.to_json()))) == st
