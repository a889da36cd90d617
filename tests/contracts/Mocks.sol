// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// Stand-ins for the native precompiles, for tests/contracts/test_facades.py only: EVM
// contracts put at the precompile addresses (0x…0800 to 0x…0803) so that VCoin's and
// JobMarket's own logic (the acting account they pass, events, allowances, refusals
// bubbling up) is tested without the EVM module. Not built into contracts/build.

import {IBank} from "src/interfaces/IBank.sol";
import {IJobs} from "src/interfaces/IJobs.sol";
import {IMint} from "src/interfaces/IMint.sol";
import {IStaking} from "src/interfaces/IStaking.sol";

// The platform and slashing authorities are in storage slot 0 of MockMint and
// MockStaking, set in the test's genesis state (no constructor runs there).
address constant TREASURY = address(0x7EA5);

contract MockBank is IBank {
    mapping(address => uint256) public balances;
    uint256 public supply;

    function balanceOf(address account) external view returns (uint256) {
        return balances[account];
    }

    function totalSupply() external view returns (uint256) {
        return supply;
    }

    function send(address from, address to, uint256 amount) external returns (bool) {
        require(balances[from] >= amount, "bank: insufficient funds");
        balances[from] -= amount;
        balances[to] += amount;
        return true;
    }

    function credit(address account, uint256 amount) external {
        balances[account] += amount;
        supply += amount;
    }

    function debit(address account, uint256 amount) external {
        require(balances[account] >= amount, "bank: insufficient funds");
        balances[account] -= amount;
        supply -= amount;
    }
}

contract MockMint is IMint {
    MockBank constant BANK = MockBank(address(0x800));
    address public platform; // slot 0

    function mint(address authority, address to, uint256 amount) external returns (bool) {
        require(authority == platform, "mint: only the platform authority may mint");
        BANK.credit(to, amount);
        return true;
    }

    function consume(address account, uint256 amount)
        external
        returns (uint256 burned, uint256 toTreasury)
    {
        burned = amount / 10;
        toTreasury = amount - burned;
        BANK.debit(account, amount);
        BANK.credit(TREASURY, toTreasury);
    }

    function treasury() external pure returns (address) {
        return TREASURY;
    }
}

contract MockStaking is IStaking {
    address public slasher; // slot 0
    mapping(address => mapping(string => uint256)) public bonds;

    function bond(address account, string calldata role, uint256 amount) external returns (bool) {
        bonds[account][role] += amount;
        return true;
    }

    function unbond(address account, string calldata role, uint256 amount)
        external
        returns (bool)
    {
        require(bonds[account][role] >= amount, "staking: unbond exceeds the bond");
        bonds[account][role] -= amount;
        return true;
    }

    function bonded(address account, string calldata role) external view returns (uint256) {
        return bonds[account][role];
    }

    function slash(address authority, address node, uint256 penaltyBps)
        external
        returns (uint256 slashed)
    {
        require(authority == slasher, "slashing: only the slashing authority may slash");
        slashed = bonds[node]["worker"] * penaltyBps / 10_000;
        bonds[node]["worker"] -= slashed;
    }
}

contract MockJobs is IJobs {
    uint64 public count;
    mapping(uint64 => JobView) private jobs;
    mapping(uint64 => bytes) public receipts;

    function postJob(address poster, JobRequest calldata req) external returns (uint64 jobId) {
        jobId = ++count;
        JobView storage j = jobs[jobId];
        j.id = jobId;
        j.poster = poster;
        j.status = "open";
        j.taskType = req.taskType;
        j.model = req.model;
        j.maxPrice = req.maxPrice;
    }

    function cancelJob(address poster, uint64 jobId) external returns (bool) {
        require(jobs[jobId].poster == poster, "jobs: not your job");
        jobs[jobId].status = "cancelled";
        return true;
    }

    function claimJob(address worker, uint64 jobId) external returns (bool) {
        require(jobs[jobId].worker == address(0), "jobs: already claimed");
        jobs[jobId].worker = worker;
        jobs[jobId].status = "claimed";
        return true;
    }

    function submitResult(
        address worker,
        uint64 jobId,
        string calldata outputHash,
        string calldata,
        uint64 computeUnits,
        bytes calldata receipt
    ) external returns (bool) {
        require(jobs[jobId].worker == worker, "jobs: not your claim");
        jobs[jobId].outputHash = outputHash;
        jobs[jobId].status = "submitted";
        jobs[jobId].price = computeUnits;
        receipts[jobId] = receipt;
        return true;
    }

    function getJob(uint64 jobId) external view returns (JobView memory) {
        require(jobs[jobId].id != 0, "jobs: no such job");
        return jobs[jobId];
    }
}
