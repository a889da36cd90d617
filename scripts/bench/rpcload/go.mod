module vcoin/scripts/bench/rpcload

go 1.22
