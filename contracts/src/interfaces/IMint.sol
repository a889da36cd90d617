// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title The mint precompile, at 0x0000000000000000000000000000000000000803.
/// @notice Minting by the platform authority, and consume: 10 % burned, 90 % to the
/// treasury, the same split as job settlement.
/// The first address argument of a mutating call is the acting account: it must be
/// the precompile's caller (msg.sender) unless the caller is a genesis facade contract
/// (VCoin at 0x…0C01, JobMarket at 0x…0c02). A refused call reverts with Error(string).
interface IMint {
    /// @notice Mints `amount` avcn to `to`; `authority` (the acting account) must be the
    /// platform authority.
    function mint(address authority, address to, uint256 amount) external returns (bool);

    /// @notice Takes `amount` avcn from `account` (the acting account): burns `burned` and
    /// sends `toTreasury` to the treasury (burned + toTreasury == amount).
    function consume(address account, uint256 amount)
        external
        returns (uint256 burned, uint256 toTreasury);

    /// @notice The treasury's address.
    function treasury() external view returns (address);
}
