// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IJobs} from "./interfaces/IJobs.sol";
import {JOBS} from "./Precompiles.sol";

/// @title JobMarket: post, cancel, claim, submit and read jobs of the jobs module.
/// @notice Deployed at genesis at 0x0000000000000000000000000000000000000c02 as runtime
/// code only: no constructor, no immutables, no storage. Each call goes through the jobs
/// precompile with msg.sender as the acting account, so a job posted here is the same job
/// a Cosmos wallet or a worker sees; a refusal bubbles up unchanged as its Error(string).
contract JobMarket {
    event JobPosted(
        uint64 indexed jobId, address indexed poster, string taskType, string model, uint256 maxPrice
    );
    event JobCancelled(uint64 indexed jobId, address indexed poster);
    event JobClaimed(uint64 indexed jobId, address indexed worker);
    event ResultSubmitted(uint64 indexed jobId, address indexed worker, string outputHash);

    /// @notice Posts a job for the caller, escrowing `req.maxPrice` of its avcn.
    function post(IJobs.JobRequest calldata req) external returns (uint64 jobId) {
        jobId = JOBS.postJob(msg.sender, req);
        emit JobPosted(jobId, msg.sender, req.taskType, req.model, req.maxPrice);
    }

    /// @notice Cancels the caller's unclaimed job `jobId`, refunding its escrow.
    function cancel(uint64 jobId) external returns (bool) {
        require(JOBS.cancelJob(msg.sender, jobId), "JobMarket: the jobs module refused the cancel");
        emit JobCancelled(jobId, msg.sender);
        return true;
    }

    /// @notice Claims job `jobId` for the caller, a registered worker.
    function claim(uint64 jobId) external returns (bool) {
        require(JOBS.claimJob(msg.sender, jobId), "JobMarket: the jobs module refused the claim");
        emit JobClaimed(jobId, msg.sender);
        return true;
    }

    /// @notice Submits the result of job `jobId`, which the caller has claimed.
    function submit(
        uint64 jobId,
        string calldata outputHash,
        string calldata artifactRef,
        uint64 computeUnits,
        bytes calldata receipt
    ) external returns (bool) {
        require(
            JOBS.submitResult(msg.sender, jobId, outputHash, artifactRef, computeUnits, receipt),
            "JobMarket: the jobs module refused the result"
        );
        emit ResultSubmitted(jobId, msg.sender, outputHash);
        return true;
    }

    /// @notice Job `jobId` as the jobs module holds it.
    function getJob(uint64 jobId) external view returns (IJobs.JobView memory) {
        return JOBS.getJob(jobId);
    }
}
