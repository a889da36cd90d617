// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IBank} from "../interfaces/IBank.sol";
import {BANK, MINT} from "../Precompiles.sol";

/// @title BankProbe: a contract that sends its own coins through the bank precompile and
/// then reverts, in the same frame or in an inner one, for the EVM's journaling tests:
/// a revert after a successful precompile call must leave balances, supply and events
/// as they were.
contract BankProbe {
    /// Sends `amount` of this contract's coins to `to`, then reverts the whole call.
    function sendThenRevert(address to, uint256 amount) external {
        BANK.send(address(this), to, amount);
        revert("BankProbe: reverted after the bank send");
    }

    /// Sends in an inner call frame that reverts when `fail`; this outer call succeeds
    /// either way and says whether the inner send stood.
    function sendInInnerFrame(address to, uint256 amount, bool fail) external returns (bool) {
        try this.innerSend(to, amount, fail) {
            return true;
        } catch {
            return false;
        }
    }

    function innerSend(address to, uint256 amount, bool fail) external {
        require(msg.sender == address(this), "BankProbe: inner frame only");
        BANK.send(address(this), to, amount);
        if (fail) revert("BankProbe: inner frame reverted");
    }

    /// Sends as someone else: the bank must refuse (the acting account is not the caller).
    function sendAs(address from, address to, uint256 amount) external {
        BANK.send(from, to, amount);
    }

    /// Consumes every avcn this contract holds through the mint precompile: a balance of
    /// exactly the amount is enough.
    function consumeAll() external returns (uint256 burned, uint256 toTreasury) {
        return MINT.consume(address(this), address(this).balance);
    }

    /// A bank send in a static context (STATICCALL): the precompile must refuse it. Returns
    /// whether the inner call succeeded and what it returned (its revert data when not).
    function staticSend(address to, uint256 amount) external view returns (bool ok, bytes memory ret) {
        (ok, ret) = address(BANK).staticcall(
            abi.encodeWithSelector(IBank.send.selector, address(this), to, amount)
        );
    }

    /// A bank read in a static context: allowed.
    function staticBalanceOf(address account) external view returns (bool ok, bytes memory ret) {
        (ok, ret) = address(BANK).staticcall(abi.encodeWithSelector(IBank.balanceOf.selector, account));
    }

    receive() external payable {}
}
