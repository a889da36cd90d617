// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {BANK, MINT, STAKING} from "./Precompiles.sol";

/// @title VCoin (VCN): the ERC-20 facade over the native coin `avcn`.
/// @notice Deployed at genesis at 0x0000000000000000000000000000000000000C01 as runtime
/// code only: no constructor, no immutables, no storage set at deploy. Balances and supply
/// are the bank's (one source of truth, never a copy); only allowances live here.
/// Every native call passes msg.sender as the acting account; a refusal from a precompile
/// bubbles up unchanged as its Error(string).
contract VCoin {
    string public constant name = "VCoin";
    string public constant symbol = "VCN";
    uint8 public constant decimals = 18;
    /// @notice The staking role that stake / unstake bond in.
    string public constant STAKE_ROLE = "worker";

    /// owner => spender => avcn the spender may still move with transferFrom
    mapping(address => mapping(address => uint256)) private _allowances;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    /// @notice `account` consumed burned + toTreasury avcn: burned, and sent to the treasury.
    event Consumed(address indexed account, uint256 burned, uint256 toTreasury);
    event Staked(address indexed account, uint256 amount);
    event Unstaked(address indexed account, uint256 amount);
    event Slashed(address indexed node, uint256 penaltyBps, uint256 slashed);

    // ERC-20 reads: the bank's figures.

    function totalSupply() external view returns (uint256) {
        return BANK.totalSupply();
    }

    function balanceOf(address account) external view returns (uint256) {
        return BANK.balanceOf(account);
    }

    function allowance(address owner, address spender) external view returns (uint256) {
        return _allowances[owner][spender];
    }

    // ERC-20 writes.

    /// @notice Moves `amount` avcn from the caller to `to` through the bank.
    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    /// @notice Lets `spender` move up to `amount` of the caller's avcn (type(uint256).max:
    /// without limit). Replaces any earlier allowance.
    function approve(address spender, uint256 amount) external returns (bool) {
        require(
            spender != address(0),
            "VCoin: approve to the zero address; name the spender's address"
        );
        _allowances[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    /// @notice Moves `amount` avcn from `from` to `to` within the caller's allowance from
    /// `from`. An allowance of type(uint256).max is not spent down.
    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        require(from != address(0), "VCoin: transfer from the zero address; name the owner");
        uint256 allowed = _allowances[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(
                allowed >= amount,
                "VCoin: transfer amount exceeds allowance; the owner must approve(spender, amount) first"
            );
            unchecked {
                _allowances[from][msg.sender] = allowed - amount;
            }
        }
        _move(from, to, amount);
        return true;
    }

    // The native modules.

    /// @notice Mints `amount` avcn to `to` through the mint module; the caller must be the
    /// platform authority (the mint precompile refuses anyone else, with a reason).
    function mint(address to, uint256 amount) external returns (bool) {
        require(to != address(0), "VCoin: mint to the zero address; name the recipient");
        require(MINT.mint(msg.sender, to, amount), "VCoin: the mint module refused the mint");
        emit Transfer(address(0), to, amount);
        return true;
    }

    /// @notice Consumes `amount` of the caller's avcn: 10 % burned, 90 % to the treasury,
    /// the same split as job settlement.
    function consume(uint256 amount) external returns (uint256 burned, uint256 toTreasury) {
        (burned, toTreasury) = MINT.consume(msg.sender, amount);
        emit Transfer(msg.sender, address(0), burned);
        emit Transfer(msg.sender, MINT.treasury(), toTreasury);
        emit Consumed(msg.sender, burned, toTreasury);
    }

    /// @notice Bonds `amount` of the caller's avcn in the "worker" role.
    function stake(uint256 amount) external returns (bool) {
        require(
            STAKING.bond(msg.sender, STAKE_ROLE, amount), "VCoin: the staking module refused the bond"
        );
        emit Staked(msg.sender, amount);
        return true;
    }

    /// @notice Unbonds `amount` of the caller's avcn from the "worker" role.
    function unstake(uint256 amount) external returns (bool) {
        require(
            STAKING.unbond(msg.sender, STAKE_ROLE, amount),
            "VCoin: the staking module refused the unbond"
        );
        emit Unstaked(msg.sender, amount);
        return true;
    }

    /// @notice Slashes `node` by `penaltyBps` basis points under the slashing module's
    /// rules; the caller must be the slashing authority. Returns the avcn slashed.
    function slash(address node, uint256 penaltyBps) external returns (uint256 slashed) {
        slashed = STAKING.slash(msg.sender, node, penaltyBps);
        emit Slashed(node, penaltyBps, slashed);
    }

    function _move(address from, address to, uint256 amount) private {
        require(
            to != address(0), "VCoin: transfer to the zero address; use consume(amount) to burn"
        );
        // ERC-20: a transfer of 0 is a normal transfer (with its event); nothing moves,
        // so the bank is not asked
        if (amount != 0) {
            require(BANK.send(from, to, amount), "VCoin: the bank refused the transfer");
        }
        emit Transfer(from, to, amount);
    }
}
