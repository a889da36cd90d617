// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title The staking precompile, at 0x0000000000000000000000000000000000000801.
/// @notice Bonds by role (e.g. "worker") and slashing under the slashing module's rules.
/// The first address argument of a mutating call is the acting account: it must be
/// the precompile's caller (msg.sender) unless the caller is a genesis facade contract
/// (VCoin at 0x…0C01, JobMarket at 0x…0c02). A refused call reverts with Error(string).
interface IStaking {
    /// @notice Bonds `amount` avcn of `account` (the acting account) in `role`.
    function bond(address account, string calldata role, uint256 amount) external returns (bool);

    /// @notice Unbonds `amount` avcn of `account` (the acting account) from `role`.
    function unbond(address account, string calldata role, uint256 amount) external returns (bool);

    /// @notice The avcn `account` has bonded in `role`.
    function bonded(address account, string calldata role) external view returns (uint256);

    /// @notice Slashes `node` by `penaltyBps` basis points of its bond; `authority` (the
    /// acting account) must be the slashing authority. Returns the avcn slashed.
    function slash(address authority, address node, uint256 penaltyBps)
        external
        returns (uint256 slashed);
}
