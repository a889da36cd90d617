// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title OZToken: a plain OpenZeppelin ERC-20, a contract we did not write, for the EVM
/// tests and scripts/bench/evm_tps.py. The deployer receives `initialSupply` (18 decimals).
contract OZToken is ERC20 {
    constructor(uint256 initialSupply) ERC20("OZ Token", "OZT") {
        _mint(msg.sender, initialSupply);
    }
}
