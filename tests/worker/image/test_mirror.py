"""The worker image's Debian mirror comes from the machine's apt sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.image.build import debian_mirror


def _apt(tmp_path: Path, sources_list: str = "", **files: str) -> Path:
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list").write_text(sources_list)
    for name, text in files.items():
        (apt / "sources.list.d" / name.replace("_", ".")).write_text(text)
    return apt


@pytest.fixture(autouse=True)
def _no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VCOIN_DEBIAN_MIRROR", raising=False)


def test_a_deb822_source_for_the_suite(tmp_path: Path) -> None:
    apt = _apt(
        tmp_path,
        debian_sources=(
            "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n"
            "Components: main\n\n"
            "Types: deb\nURIs: http://mirror.example/debian\n"
            "Suites: bookworm bookworm-updates\nComponents: main contrib\n"
        ),
    )
    assert debian_mirror("bookworm", apt) == "http://mirror.example/debian"


def test_a_one_line_source_with_options(tmp_path: Path) -> None:
    apt = _apt(
        tmp_path,
        "# deb http://commented.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n",
    )
    assert debian_mirror("bookworm", apt) == "http://one.example/debian"


def test_sources_for_other_suites_or_components_are_not_used(tmp_path: Path) -> None:
    apt = _apt(
        tmp_path,
        "deb http://old.example/debian bullseye main\n"
        "deb http://sec.example/debian-security bookworm-security main\n"
        "deb http://contrib.example/debian bookworm contrib\n",
        off_sources="Types: deb\nEnabled: no\nURIs: http://off.example/d\nSuites: bookworm\n"
        "Components: main\n",
    )
    with pytest.raises(SystemExit) as e:
        debian_mirror("bookworm", apt)
    message = str(e.value)
    assert "no Debian mirror for 'bookworm main'" in message
    assert "VCOIN_DEBIAN_MIRROR" in message


def test_no_sources_at_all_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="debootstrap needs one"):
        debian_mirror("bookworm", tmp_path / "missing")


def test_the_env_override_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VCOIN_DEBIAN_MIRROR", "http://override.example/debian")
    assert debian_mirror("bookworm", _apt(tmp_path)) == "http://override.example/debian"
