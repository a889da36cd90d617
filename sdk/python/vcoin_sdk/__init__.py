"""VCoin SDK for Python: keys, queries, transactions and job results.

    from vcoin_sdk import Client, Key
    key = Key.from_mnemonic("…24 words…")
    with Client("http://127.0.0.1:26657", "http://127.0.0.1:1317") as c:
        c.send(key, "vcoin1…", "1.5VCN")
        posted = c.post_job(key, model="tiny-lm", task_type="text-generation",
                            max_price="2VCN", input={"prompts": ["Hello"]})
        job = c.wait_job(posted.job_id)
        output = c.job_output(job.id, key)  # signed: a job output is not public
"""

from vcoin_sdk import msgs
from vcoin_sdk.amounts import DECIMALS, DENOM, VCN, Coin, format_vcn, parse_coin, parse_coins
from vcoin_sdk.artifacts import artifact_token
from vcoin_sdk.client import AsyncClient, Client, PostedJob
from vcoin_sdk.errors import (
    ChainError,
    InputError,
    IntegrityError,
    InvalidAddress,
    InvalidAmount,
    InvalidMnemonic,
    NodeError,
    NodeUnavailable,
    NotFound,
    QueryError,
    TxError,
    VCoinError,
    WaitTimeout,
)
from vcoin_sdk.gateway import AsyncGatewayClient, GatewayClient, GatewayError, GatewayUnavailable
from vcoin_sdk.keys import (
    COSMOS_PATH,
    ETH_PATH,
    Address,
    EthKey,
    Key,
    generate_mnemonic,
    is_valid_address,
    normalize_mnemonic,
    parse_address,
    to_bech32,
    to_eip55,
)
from vcoin_sdk.tx import SignedTx, decode_tx, sign_tx, tx_hash, verify
from vcoin_sdk.types import FINAL_STATES, OPEN_STATES, Account, Bond, Job, Reputation, TxResult

__version__ = "0.1.0"

__all__ = [
    "COSMOS_PATH", "DECIMALS", "DENOM", "ETH_PATH", "FINAL_STATES", "OPEN_STATES", "VCN",
    "Account", "Address", "AsyncClient", "AsyncGatewayClient", "GatewayClient", "GatewayError",
    "GatewayUnavailable", "Bond", "ChainError", "Client", "Coin", "EthKey",
    "InputError", "IntegrityError", "InvalidAddress", "InvalidAmount", "InvalidMnemonic",
    "Job", "Key", "NodeError", "NodeUnavailable", "NotFound", "PostedJob", "QueryError",
    "Reputation", "SignedTx", "TxError", "TxResult", "VCoinError", "WaitTimeout",
    "artifact_token", "decode_tx", "format_vcn", "generate_mnemonic", "is_valid_address", "msgs",
    "normalize_mnemonic", "parse_address", "parse_coin", "parse_coins", "sign_tx",
    "to_bech32", "to_eip55", "tx_hash", "verify",
]  # fmt: skip
