// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title The bank precompile, at 0x0000000000000000000000000000000000000800.
/// @notice Balances and supply of the native coin `avcn` (1 wei = 1 avcn).
/// The first address argument of a mutating call is the acting account: it must be
/// the precompile's caller (msg.sender) unless the caller is a genesis facade contract
/// (VCoin at 0x…0C01, JobMarket at 0x…0c02). A refused call reverts with Error(string).
interface IBank {
    /// @notice The `avcn` balance of `account`.
    function balanceOf(address account) external view returns (uint256);

    /// @notice The total supply of `avcn`.
    function totalSupply() external view returns (uint256);

    /// @notice Moves `amount` avcn from `from` (the acting account) to `to`.
    function send(address from, address to, uint256 amount) external returns (bool);
}
