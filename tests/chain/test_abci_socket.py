"""CometBFT's view of the app: the ABCI socket protocol, driven as CometBFT drives it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
from cosmpy.protos.tendermint.abci import types_pb2 as abci
from cosmpy.protos.tendermint.types.params_pb2 import BlockParams, ConsensusParams
from google.protobuf.timestamp_pb2 import Timestamp

from app.app import App
from chain.abci.server import serve
from chain.abci.wire import frame, read_frame
from chain.store import StoreProof, verify_proof
from chain.tx.sign import sign_tx
from genesis.devnet import dev_key, genesis_doc


async def _call(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, **req: object
) -> abci.Response:
    writer.write(frame(abci.Request(**req).SerializeToString()))
    writer.write(frame(abci.Request(flush=abci.RequestFlush()).SerializeToString()))
    await writer.drain()
    resp = abci.Response()
    resp.ParseFromString(await read_frame(reader))
    flush = abci.Response()
    flush.ParseFromString(await read_frame(reader))
    assert flush.WhichOneof("value") == "flush"
    return resp


def test_cometbft_drives_a_block_over_the_socket(tmp_path: Path) -> None:
    app = App(tmp_path / "state")
    g = genesis_doc()
    alice, bob = dev_key("alice"), dev_key("bob")

    async def run() -> None:
        server = await serve(app, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection("127.0.0.1", port)

        info = await _call(r, w, info=abci.RequestInfo())
        assert info.info.last_block_height == 0

        init = await _call(
            r,
            w,
            init_chain=abci.RequestInitChain(
                chain_id=g["chain_id"],
                app_state_bytes=json.dumps(g["app_state"]).encode(),
                initial_height=1,
                time=Timestamp(seconds=1_700_000_000),
                consensus_params=ConsensusParams(block=BlockParams(max_bytes=4096)),
            ),
        )
        genesis_hash = init.init_chain.app_hash
        assert len(genesis_hash) == 32

        acc = app.custom_query("auth", "account", {"address": alice.bech32})
        send = MsgSend(
            from_address=alice.bech32,
            to_address=bob.bech32,
            amount=[Coin(denom="avcn", amount="777")],
        )
        tx = sign_tx(
            alice,
            [send],
            chain_id=g["chain_id"],
            account_number=int(acc["account_number"]),
            sequence=0,
        )

        check = await _call(r, w, check_tx=abci.RequestCheckTx(tx=tx, type=abci.CheckTxType.NEW))
        assert check.check_tx.code == 0, check.check_tx.log
        bad = await _call(
            r, w, check_tx=abci.RequestCheckTx(tx=b"\x0a\xff\xff", type=abci.CheckTxType.NEW)
        )
        assert bad.check_tx.code == 2 and bad.check_tx.codespace == "sdk"

        prep = await _call(
            r, w, prepare_proposal=abci.RequestPrepareProposal(txs=[tx], max_tx_bytes=1 << 20)
        )
        assert list(prep.prepare_proposal.txs) == [tx]
        proc = await _call(r, w, process_proposal=abci.RequestProcessProposal(txs=[tx], height=1))
        assert proc.process_proposal.status == abci.ResponseProcessProposal.ACCEPT
        # over genesis' block.max_bytes (4096): rejected, though each tx is fine
        many = [tx] * (4096 // len(tx) + 1)
        over = await _call(r, w, process_proposal=abci.RequestProcessProposal(txs=many, height=1))
        assert over.process_proposal.status == abci.ResponseProcessProposal.REJECT

        fin = await _call(
            r,
            w,
            finalize_block=abci.RequestFinalizeBlock(
                txs=[tx], height=1, hash=b"\x11" * 32, time=Timestamp(seconds=1_700_000_001)
            ),
        )
        res = fin.finalize_block
        assert res.tx_results[0].code == 0, res.tx_results[0].log
        assert any(e.type == "transfer" for e in res.tx_results[0].events)
        assert res.app_hash != genesis_hash

        # FinalizeBlock alone persists nothing: Info still reports genesis
        info = await _call(r, w, info=abci.RequestInfo())
        assert info.info.last_block_height == 0
        await _call(r, w, commit=abci.RequestCommit())
        info = await _call(r, w, info=abci.RequestInfo())
        assert info.info.last_block_height == 1
        assert info.info.last_block_app_hash == res.app_hash

        key = b"\x02" + bob.address + b"avcn"
        q = await _call(r, w, query=abci.RequestQuery(path="/store/bank/key", data=key, prove=True))
        assert int.from_bytes(q.query.value, "big") == 1_000_000 * 10**18 + 777
        proof = StoreProof.from_json(json.loads(q.query.proof_ops.ops[0].data))
        assert verify_proof(res.app_hash, proof, key, q.query.value)
        assert not verify_proof(res.app_hash, proof, key, q.query.value + b"\x00")

        w.close()
        server.close()
        await server.wait_closed()

    asyncio.run(run())
    app.close()
