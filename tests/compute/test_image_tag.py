"""The job image's tags (compute/image.py): what changes them and what does not."""

from __future__ import annotations

from pathlib import Path

from compute.image import REQUIREMENTS, base_tag

LOCK = REQUIREMENTS.read_text()


def test_the_lock_stamp_and_comments_do_not_change_the_base_tag(tmp_path: Path) -> None:
    """A dependency of the node alone moves the lock's inputs-sha256 stamp: the image,
    which holds none of them, keeps its tag (and every worker its built image)."""
    restamped = tmp_path / "restamped.txt"
    restamped.write_text(
        "\n".join(
            "# inputs-sha256: " + "0" * 64 if line.startswith("# inputs-sha256:") else line
            for line in LOCK.splitlines()
        )
        + "\n# one more comment\n"
    )
    assert restamped.read_text() != LOCK
    assert base_tag(restamped) == base_tag(REQUIREMENTS)


def test_a_pin_or_a_hash_changes_the_base_tag(tmp_path: Path) -> None:
    """The packages the runtime computes with are the image: another version or
    another wheel (its hash) is another tag, so a stale image is never used."""
    assert "numpy==" in LOCK and "--hash=sha256:" in LOCK
    for old, new in (("numpy==", "numpy==0."), ("--hash=sha256:", "--hash=sha256:0")):
        edited = tmp_path / "edited.txt"
        edited.write_text(LOCK.replace(old, new, 1))
        assert base_tag(edited) != base_tag(REQUIREMENTS), old
