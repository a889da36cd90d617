"""REST routes of the chain's other modules: mint, slashing, authz, drip, evm."""

from __future__ import annotations

from enum import Enum
from typing import Any

from fastapi import Depends, FastAPI, Query

from app.rest.common import Reader, addr, pagination
from app.rest.paging import PageRequest, paginate_all
from app.rest.schemas import answers
from chain.rest.errors import bad_request

MINT, SLASHING, AUTHZ = "/vcoin/mint/v1", "/vcoin/slashing/v1", "/vcoin/authz/v1"
DRIP, EVM = "/vcoin/drip/v1", "/vcoin/evm/v1"
PAGE = Depends(pagination)


def mount_mint(rest: FastAPI, r: Reader) -> None:
    get = rest.get
    tag: list[str | Enum] = ["mint"]

    @get(
        MINT + "/epochs",
        tags=tag,
        response_model=None,
        responses=answers("epoch"),
        summary="The current epoch: start, mint height, work",
    )
    def epoch() -> dict[str, Any]:
        return {"epoch": r.q("mint", "epoch")}

    @get(
        MINT + "/minted",
        tags=tag,
        response_model=None,
        responses=answers(),
        summary="VCN minted since genesis (avcn)",
    )
    def minted() -> dict[str, Any]:
        out: dict[str, Any] = r.q("mint", "minted")
        return out

    @get(
        MINT + "/params",
        tags=tag,
        response_model=None,
        responses=answers("params"),
        summary="The mint module's params",
    )
    def params() -> dict[str, Any]:
        return {"params": r.q("mint", "params")}


def mount_slashing(rest: FastAPI, r: Reader) -> None:
    get = rest.get
    tag: list[str | Enum] = ["slashing"]

    @get(
        SLASHING + "/missed_blocks/{address}",
        tags=tag,
        response_model=None,
        responses=answers(),
        summary="A validator's missed blocks in its window (CometBFT)",
    )
    def missed_blocks(address: str) -> dict[str, Any]:
        out: dict[str, Any] = r.q("slashing", "missed_blocks", address=addr("address", address))
        return out

    @get(
        SLASHING + "/params",
        tags=tag,
        response_model=None,
        responses=answers("params"),
        summary="The slashing module's params",
    )
    def params() -> dict[str, Any]:
        return {"params": r.q("slashing", "params")}


def mount_authz(rest: FastAPI, r: Reader) -> None:
    get = rest.get
    tag: list[str | Enum] = ["authz"]

    @get(
        AUTHZ + "/grants",
        tags=tag,
        response_model=None,
        responses=answers("grants", "grant", many=True),
        summary="Grants by a granter and/or to a grantee",
    )
    def grants(
        granter: str = Query("", description="vcoin1… or 0x…"),
        grantee: str = Query("", description="vcoin1… or 0x…"),
        page: PageRequest = PAGE,
    ) -> dict[str, Any]:
        if not granter and not grantee:
            raise bad_request("give granter, grantee or both")
        req = {}
        if granter:
            req["granter"] = addr("granter", granter)
        if grantee:
            req["grantee"] = addr("grantee", grantee)
        items, pg = paginate_all(
            r.q("authz", "grants", **req)["grants"],
            lambda g: f"{g['granter']}/{g['grantee']}/{g['msg_type_url']}",
            page,
        )
        return {"grants": items, "pagination": pg}

    @get(
        AUTHZ + "/params",
        tags=tag,
        response_model=None,
        responses=answers("params"),
        summary="The authz module's params",
    )
    def params() -> dict[str, Any]:
        return {"params": r.q("authz", "params")}


def mount_drip(rest: FastAPI, r: Reader) -> None:
    get = rest.get
    tag: list[str | Enum] = ["drip"]

    @get(
        DRIP + "/pool",
        tags=tag,
        response_model=None,
        responses=answers("pool"),
        summary="The drip pool: address, balance, drips left",
    )
    def pool() -> dict[str, Any]:
        return {"pool": r.q("drip", "pool")}

    @get(
        DRIP + "/dripped/{address}",
        tags=tag,
        response_model=None,
        responses=answers(),
        summary="Whether an address had its drip",
    )
    def dripped(address: str) -> dict[str, Any]:
        out: dict[str, Any] = r.q("drip", "dripped", address=addr("address", address))
        return out

    @get(
        DRIP + "/params",
        tags=tag,
        response_model=None,
        responses=answers("params"),
        summary="The drip module's params",
    )
    def params() -> dict[str, Any]:
        return {"params": r.q("drip", "params")}


def mount_evm(rest: FastAPI, r: Reader) -> None:
    get = rest.get
    tag: list[str | Enum] = ["evm"]

    @get(
        EVM + "/accounts/{address}",
        tags=tag,
        response_model=None,
        responses=answers("account", "account"),
        summary="Balance, nonce and code hash",
    )
    def account(address: str) -> dict[str, Any]:
        return {"account": r.q("evm", "account", address=addr("address", address))}

    @get(
        EVM + "/code/{address}",
        tags=tag,
        response_model=None,
        responses=answers(),
        summary="A contract's code (0x when none)",
    )
    def code(address: str) -> dict[str, Any]:
        out: dict[str, Any] = r.q("evm", "code", address=addr("address", address))
        return out

    @get(
        EVM + "/storage/{address}/{slot}",
        tags=tag,
        response_model=None,
        responses=answers(),
        summary="A storage slot (decimal or 0x hex) of a contract",
    )
    def storage(address: str, slot: str) -> dict[str, Any]:
        out: dict[str, Any] = r.q("evm", "storage", address=addr("address", address), slot=slot)
        return out

    @get(
        EVM + "/base_fee",
        tags=tag,
        response_model=None,
        responses=answers(),
        summary="The EIP-1559 base fee of the next block (avcn)",
    )
    def base_fee() -> dict[str, Any]:
        out: dict[str, Any] = r.q("evm", "base_fee")
        return out

    @get(
        EVM + "/params",
        tags=tag,
        response_model=None,
        responses=answers("params"),
        summary="The evm module's params",
    )
    def params() -> dict[str, Any]:
        return {"params": r.q("evm", "params")}
