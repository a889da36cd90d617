// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IBank} from "./interfaces/IBank.sol";
import {IJobs} from "./interfaces/IJobs.sol";
import {IMint} from "./interfaces/IMint.sol";
import {IStaking} from "./interfaces/IStaking.sol";

// The precompiles bridging to the native modules, at fixed addresses (contracts/README.md).
// They have no code: every call to them expects return data, so Solidity skips its
// extcodesize check and decodes what the precompile returns.

IBank constant BANK = IBank(0x0000000000000000000000000000000000000800);
IStaking constant STAKING = IStaking(0x0000000000000000000000000000000000000801);
IJobs constant JOBS = IJobs(0x0000000000000000000000000000000000000802);
IMint constant MINT = IMint(0x0000000000000000000000000000000000000803);
