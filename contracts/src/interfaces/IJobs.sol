// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title The jobs precompile, at 0x0000000000000000000000000000000000000802.
/// @notice Post, cancel, claim and submit jobs of the jobs module, and read them: a job
/// posted here is the same job a Cosmos wallet or a worker sees.
/// The first address argument of a mutating call is the acting account: it must be
/// the precompile's caller (msg.sender) unless the caller is a genesis facade contract
/// (VCoin at 0x…0C01, JobMarket at 0x…0c02). A refused call reverts with Error(string).
interface IJobs {
    /// @notice What a poster asks for; the fields of the jobs module's MsgPostJob.
    struct JobRequest {
        string taskType;
        string model;
        string inputHash;
        bytes inlineInput;
        string spec;
        uint256 maxPrice;
        uint32 priority;
        uint64 claimBlocks;
        uint64 resultBlocks;
    }

    /// @notice A job as the jobs module holds it (status as the module names it).
    struct JobView {
        uint64 id;
        address poster;
        address worker;
        string status;
        string taskType;
        string model;
        uint256 maxPrice;
        uint256 price;
        string outputHash;
    }

    /// @notice Posts a job for `poster` (the acting account), escrowing `req.maxPrice`.
    function postJob(address poster, JobRequest calldata req) external returns (uint64 jobId);

    /// @notice Cancels an unclaimed job of `poster` (the acting account).
    function cancelJob(address poster, uint64 jobId) external returns (bool);

    /// @notice Claims job `jobId` for `worker` (the acting account).
    function claimJob(address worker, uint64 jobId) external returns (bool);

    /// @notice Submits the result of a job `worker` (the acting account) has claimed.
    function submitResult(
        address worker,
        uint64 jobId,
        string calldata outputHash,
        string calldata artifactRef,
        uint64 computeUnits,
        bytes calldata receipt
    ) external returns (bool);

    /// @notice Job `jobId`; reverts when there is none.
    function getJob(uint64 jobId) external view returns (JobView memory);
}
