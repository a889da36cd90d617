// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title EvmProbe: the EVM rules whose gas or results depend on how state is kept
/// (warm and cold access, original storage values and refunds, code hashes of
/// missing accounts, new accounts, contracts made and destroyed
/// in one transaction), run on VCoin and on eth-tester in the same order by
/// tests/modules/evm/test_reference.py, which compares every gas figure and result.
contract EvmProbe {
    uint256 public a;
    uint256 public b;
    mapping(uint256 => uint256) public m;

    /// Storage writes with refunds: a slot set and reset in one tx, others changed.
    function storePattern(uint256 x) external {
        m[1] = x;
        m[1] = 0;
        a = a + x;
        b = x;
        m[x] = x;
    }

    /// Every slot back to zero: the refunds of clearing.
    function clear(uint256 x) external {
        a = 0;
        b = 0;
        m[x] = 0;
    }

    /// The same slot read twice: cold, then warm.
    function readTwice(uint256 k) external view returns (uint256) {
        return m[k] + m[k] + 1;
    }

    function codeHashOf(address x) external view returns (bytes32 h) {
        assembly {
            h := extcodehash(x)
        }
    }

    function balanceTwice(address x) external view returns (uint256) {
        return x.balance + x.balance;
    }

    /// Value to an address, maybe a new account (the new-account gas).
    function pay(address payable to) external payable {
        (bool ok, ) = to.call{value: msg.value}("");
        require(ok, "EvmProbe: pay failed");
    }

    /// CREATE2 of init code that self-destructs to its creator: made and destroyed in
    /// one tx (EIP-6780: the account is gone); returns its address.
    function createAndDestroy(bytes32 salt) external payable returns (address d) {
        assembly {
            mstore(0, 0x33ff) // CALLER SELFDESTRUCT
            d := create2(callvalue(), 30, 2, salt)
        }
        require(d != address(0), "EvmProbe: create2 failed");
    }

    /// Calls `target` and reverts after it: nothing it did stays.
    function callThenRevert(address target, bytes calldata data) external {
        (bool ok, ) = target.call(data);
        require(!ok, "EvmProbe: reverting after the call");
        revert("EvmProbe: reverting after the call");
    }

    receive() external payable {}
}
