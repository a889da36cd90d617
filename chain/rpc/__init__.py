"""The node RPC: CometBFT's JSON-RPC subset and websocket event subscriptions."""
