"""The gateway's storage: one small repository over SQL, on SQLite or PostgreSQL.

``open_store(url)`` takes ``sqlite:///path`` (or a bare path; the default is
``<home>/gateway.sqlite3``) or ``postgresql://…`` (psycopg 3). The SQL is the same
for both: standard types, ``?`` placeholders (rewritten to ``%s`` for psycopg), and
single statements whose row count decides (a nonce is taken by deleting it, so two
gateway instances on one PostgreSQL cannot both accept it). Amounts (avcn) are kept
as decimal text: they pass 2^63.

Tables: ``nonces`` (sign-in challenges: single use, expiring) and ``api_keys``
(the sha256 of each key, never the key; its owner, scopes, spend cap and rate limit;
``revoked_at`` set by a revoke), ``files`` (``/v1/files``: the owner, name and
sha256 of each upload; the bytes are in the node's artifact store) and
``fine_tunes`` (``/v1/fine_tuning/jobs``: the request, the chain job it posted, and
``accounted``, set once when the job's escrow is squared with the key's ``spent``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS nonces (
        nonce TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS api_keys (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL,
        scopes TEXT NOT NULL,
        spend_cap TEXT NOT NULL,
        spent TEXT NOT NULL,
        rate_limit INTEGER NOT NULL,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT
    )""",
    "CREATE INDEX IF NOT EXISTS api_keys_owner ON api_keys (owner)",
    """CREATE TABLE IF NOT EXISTS files (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        filename TEXT NOT NULL,
        purpose TEXT NOT NULL,
        size BIGINT NOT NULL,
        sha256 TEXT NOT NULL,
        created_at BIGINT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS files_owner ON files (owner)",
    """CREATE TABLE IF NOT EXISTS fine_tunes (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        key_id TEXT NOT NULL,
        model TEXT NOT NULL,
        training_file TEXT NOT NULL,
        validation_file TEXT,
        hyperparameters TEXT NOT NULL,
        suffix TEXT,
        seed BIGINT NOT NULL,
        price TEXT NOT NULL,
        input_sha256 TEXT NOT NULL,
        job_id BIGINT,
        tx_hash TEXT,
        created_at BIGINT NOT NULL,
        accounted INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS fine_tunes_owner ON fine_tunes (owner)",
)
_FILE_COLUMNS = "id, owner, filename, purpose, size, sha256, created_at"
_FT_COLUMNS = (
    "id, owner, key_id, model, training_file, validation_file, hyperparameters, suffix, "
    "seed, price, input_sha256, job_id, tx_hash, created_at, accounted"
)
_KEY_COLUMNS = (
    "id, owner, name, key_hash, scopes, spend_cap, spent, rate_limit, created_at, revoked_at"
)


@dataclass(frozen=True)
class ApiKeyRow:
    id: str
    owner: str
    name: str
    key_hash: str
    scopes: tuple[str, ...]
    spend_cap: int
    spent: int
    rate_limit: int  # requests per minute
    created_at: int
    revoked_at: int | None

    @classmethod
    def of(cls, row: Sequence[Any]) -> ApiKeyRow:
        return cls(
            id=str(row[0]),
            owner=str(row[1]),
            name=str(row[2]),
            key_hash=str(row[3]),
            scopes=tuple(s for s in str(row[4]).split(",") if s),
            spend_cap=int(row[5]),
            spent=int(row[6]),
            rate_limit=int(row[7]),
            created_at=int(row[8]),
            revoked_at=None if row[9] is None else int(row[9]),
        )


@dataclass(frozen=True)
class FileRow:
    id: str
    owner: str
    filename: str
    purpose: str
    size: int
    sha256: str  # the blob in the node's artifact store
    created_at: int

    @classmethod
    def of(cls, row: Sequence[Any]) -> FileRow:
        return cls(str(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]),
                   str(row[5]), int(row[6]))  # fmt: skip


@dataclass(frozen=True)
class FineTuneRow:
    id: str
    owner: str
    key_id: str
    model: str
    training_file: str
    validation_file: str | None
    hyperparameters: str  # JSON: what the job object shows
    suffix: str | None
    seed: int
    price: int  # avcn escrowed
    input_sha256: str  # the job's input in the artifact store
    job_id: int | None  # None until the chain took the post
    tx_hash: str | None
    created_at: int
    accounted: bool  # the job is final and its escrow was squared with the key's spent

    @classmethod
    def of(cls, r: Sequence[Any]) -> FineTuneRow:
        return cls(
            str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]),
            None if r[5] is None else str(r[5]), str(r[6]), None if r[7] is None else str(r[7]),
            int(r[8]), int(r[9]), str(r[10]), None if r[11] is None else int(r[11]),
            None if r[12] is None else str(r[12]), int(r[13]), bool(r[14]),
        )  # fmt: skip


class Store:
    """The repository. Thread-safe: one connection, one lock (each call is one short
    statement; a gateway that needs more throughput runs more instances)."""

    def __init__(self, conn: Any, kind: str) -> None:
        self._conn = conn
        self.kind = kind  # "sqlite" or "postgresql"
        self._lock = threading.Lock()
        for stmt in SCHEMA:
            self._exec(stmt)

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self.kind == "postgresql":
            sql = sql.replace("?", "%s")
        with self._lock:
            cur = self._conn.execute(sql, tuple(params))
            rows = cur.fetchall() if cur.description else []
            n = cur.rowcount
            if self.kind == "sqlite":
                self._conn.commit()
        return rows, n

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- sign-in nonces ------------------------------------------------------
    def put_nonce(self, nonce: str, address: str, expires_at: int) -> None:
        self._exec(
            "INSERT INTO nonces (nonce, address, expires_at) VALUES (?, ?, ?)",
            (nonce, address, expires_at),
        )

    def take_nonce(self, nonce: str, address: str, now: int) -> bool:
        """Consume the nonce issued to ``address``; False when it is unknown, used,
        issued to another address or expired."""
        self._exec("DELETE FROM nonces WHERE expires_at <= ?", (now,))
        _, n = self._exec(
            "DELETE FROM nonces WHERE nonce = ? AND address = ? AND expires_at > ?",
            (nonce, address, now),
        )
        return bool(n == 1)

    # -- API keys ------------------------------------------------------------
    def add_key(self, k: ApiKeyRow) -> None:
        self._exec(
            f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                k.id,
                k.owner,
                k.name,
                k.key_hash,
                ",".join(k.scopes),
                str(k.spend_cap),
                str(k.spent),
                k.rate_limit,
                k.created_at,
                k.revoked_at,
            ),
        )

    def get_key(self, key_id: str) -> ApiKeyRow | None:
        rows, _ = self._exec(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?", (key_id,))
        return ApiKeyRow.of(rows[0]) if rows else None

    def list_keys(self, owner: str) -> list[ApiKeyRow]:
        rows, _ = self._exec(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE owner = ? ORDER BY created_at, id",
            (owner,),
        )
        return [ApiKeyRow.of(r) for r in rows]

    def revoke_key(self, owner: str, key_id: str, now: int) -> bool:
        """Revoke ``owner``'s key; False when it has no such live key."""
        _, n = self._exec(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND owner = ? AND revoked_at IS NULL",
            (now, key_id, owner),
        )
        return bool(n == 1)

    def add_spent(self, key_id: str, amount: int) -> bool:
        """Add ``amount`` avcn to the key's ``spent`` if it stays within its cap (0: no
        cap of its own); False when it would not. A compare-and-set on the stored text,
        so instances that share a PostgreSQL store never both pass the cap."""
        for _ in range(50):
            row = self.get_key(key_id)
            if row is None:
                return False
            new = row.spent + amount
            if row.spend_cap and new > row.spend_cap:
                return False
            _, n = self._exec(
                "UPDATE api_keys SET spent = ? WHERE id = ? AND spent = ?",
                (str(new), key_id, str(row.spent)),
            )
            if n == 1:
                return True
        return False

    def refund_spent(self, key_id: str, amount: int) -> None:
        """Take back ``amount`` (a job the chain refused, or the unspent part of its escrow)."""
        for _ in range(50):
            row = self.get_key(key_id)
            if row is None:
                return
            new = max(0, row.spent - amount)
            _, n = self._exec(
                "UPDATE api_keys SET spent = ? WHERE id = ? AND spent = ?",
                (str(new), key_id, str(row.spent)),
            )
            if n == 1:
                return

    # -- files (/v1/files) ---------------------------------------------------
    def add_file(self, f: FileRow) -> None:
        self._exec(
            f"INSERT INTO files ({_FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (f.id, f.owner, f.filename, f.purpose, f.size, f.sha256, f.created_at),
        )

    def get_file(self, owner: str, file_id: str) -> FileRow | None:
        rows, _ = self._exec(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE id = ? AND owner = ?", (file_id, owner)
        )
        return FileRow.of(rows[0]) if rows else None

    def list_files(self, owner: str, purpose: str | None = None) -> list[FileRow]:
        sql = f"SELECT {_FILE_COLUMNS} FROM files WHERE owner = ?"
        args: tuple[Any, ...] = (owner,)
        if purpose is not None:
            sql, args = sql + " AND purpose = ?", (owner, purpose)
        rows, _ = self._exec(sql + " ORDER BY created_at DESC, id", args)
        return [FileRow.of(r) for r in rows]

    def delete_file(self, owner: str, file_id: str) -> bool:
        _, n = self._exec("DELETE FROM files WHERE id = ? AND owner = ?", (file_id, owner))
        return bool(n == 1)

    # -- fine-tuning jobs (/v1/fine_tuning/jobs) -----------------------------
    def add_fine_tune(self, t: FineTuneRow) -> None:
        self._exec(
            f"INSERT INTO fine_tunes ({_FT_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (t.id, t.owner, t.key_id, t.model, t.training_file, t.validation_file,
             t.hyperparameters, t.suffix, t.seed, str(t.price), t.input_sha256, t.job_id,
             t.tx_hash, t.created_at, int(t.accounted)),
        )  # fmt: skip

    def set_fine_tune_posted(self, ft_id: str, job_id: int, tx_hash: str) -> None:
        self._exec(
            "UPDATE fine_tunes SET job_id = ?, tx_hash = ? WHERE id = ?", (job_id, tx_hash, ft_id)
        )

    def drop_fine_tune(self, ft_id: str) -> None:
        """Forget a fine-tune whose job the chain never took."""
        self._exec("DELETE FROM fine_tunes WHERE id = ? AND job_id IS NULL", (ft_id,))

    def get_fine_tune(self, owner: str, ft_id: str) -> FineTuneRow | None:
        rows, _ = self._exec(
            f"SELECT {_FT_COLUMNS} FROM fine_tunes WHERE id = ? AND owner = ?", (ft_id, owner)
        )
        return FineTuneRow.of(rows[0]) if rows else None

    def list_fine_tunes(self, owner: str) -> list[FineTuneRow]:
        """``owner``'s fine-tunes, newest first."""
        rows, _ = self._exec(
            f"SELECT {_FT_COLUMNS} FROM fine_tunes WHERE owner = ? ORDER BY created_at DESC, id",
            (owner,),
        )
        return [FineTuneRow.of(r) for r in rows]

    def mark_accounted(self, ft_id: str) -> bool:
        """Set ``accounted`` once; True for the one caller that set it (so the escrow is
        squared with the key's spent once, even by instances sharing the store)."""
        _, n = self._exec(
            "UPDATE fine_tunes SET accounted = 1 WHERE id = ? AND accounted = 0", (ft_id,)
        )
        return bool(n == 1)


def open_store(url: str) -> Store:
    """A store for ``url``: ``postgresql://…``, ``sqlite:///path`` or a file path."""
    if url.startswith(("postgresql://", "postgres://")):
        import psycopg

        return Store(psycopg.connect(url, autocommit=True), "postgresql")
    path = url.removeprefix("sqlite://") if url.startswith("sqlite://") else url
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=5000")
    return Store(db, "sqlite")
