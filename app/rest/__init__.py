"""REST routes of the VCoin modules, in the Cosmos gRPC-gateway style (``/vcoin/<module>/v1/…``).

``modules.mount(rest, node)`` adds them, and Swagger UI, to the node's REST app
(``chain/rest/server.py``) through ``app.node.Node.extend_rest``; the framework
knows nothing of them. Every route is a GET:

    jobs          /vcoin/jobs/v1/jobs/{id}                    {"job"}           404 if none
                  /vcoin/jobs/v1/jobs?state=|poster=|worker=  {"jobs", "pagination"} (one filter)
                  /vcoin/jobs/v1/workers                      {"workers", "pagination"}
                  /vcoin/jobs/v1/workers/{address}            {"worker"}        404 if none
                  /vcoin/jobs/v1/models                       {"models", "pagination"}
                  /vcoin/jobs/v1/models/{name}                {"model"}         404 if none
                  /vcoin/jobs/v1/queue                        {"jobs", "pagination"} best first
                  /vcoin/jobs/v1/stats                        {"stats"}: jobs by state, burned,
                                                              to_treasury, paid_to_workers,
                                                              refunded, escrow and treasury
                  /vcoin/jobs/v1/params                       {"params"}
    staking       /vcoin/staking/v1/bonds[?role=]             {"bonds", "pagination"}
                  /vcoin/staking/v1/bonds/{address}           {"bonds"}: every role
                  /vcoin/staking/v1/validators                {"validators", "pagination"}
                  /vcoin/staking/v1/pool                      {"pool"}
                  /vcoin/staking/v1/params                    {"params"}
    verification  /vcoin/verification/v1/attestations/{job_id}  stage, attestations, tally
                  /vcoin/verification/v1/pending              {"pending", "pagination"}
                  /vcoin/verification/v1/risk/{worker}?price= audit rate, EV of faking
                  /vcoin/verification/v1/params               {"params"}
    reputation    /vcoin/reputation/v1/workers/{address}      {"reputation"}: score, inputs
                  /vcoin/reputation/v1/params                 {"params"}
    mint          /vcoin/mint/v1/epochs                       {"epoch"}: the current one
                  /vcoin/mint/v1/minted                       {"total_minted"}
                  /vcoin/mint/v1/params                       {"params"}
    slashing      /vcoin/slashing/v1/missed_blocks/{address}  counted, missed, window
                  /vcoin/slashing/v1/params                   {"params"}
    authz         /vcoin/authz/v1/grants?granter=&grantee=    {"grants", "pagination"}
                  /vcoin/authz/v1/params                      {"params"}
    drip          /vcoin/drip/v1/pool                         {"pool"}
                  /vcoin/drip/v1/dripped/{address}            dripped, height
                  /vcoin/drip/v1/params                       {"params"}
    evm           /vcoin/evm/v1/accounts/{address}            {"account"}: balance, nonce
                  /vcoin/evm/v1/code/{address}                code (0x…)
                  /vcoin/evm/v1/storage/{address}/{slot}      value (slot decimal or 0x)
                  /vcoin/evm/v1/base_fee                      base_fee
                  /vcoin/evm/v1/params                        {"params"}
    training      /vcoin/training/v1/trainings/{id}           {"training"}: with rounds_detail;
                                                              404 if none
                  /vcoin/training/v1/trainings?poster=        {"trainings", "pagination"}
                  /vcoin/training/v1/by_job/{job_id}          {"ref"}: training, round, shard
                                                              or aggregate; 404 if none
                  /vcoin/training/v1/params                   {"params"}
    docs          /openapi.json (chain/rest/server.py), /swagger (and /docs): Swagger UI

Each answer is the module's named query (``modules/<m>/queries.py``, what
``abci_query`` ``/custom/<module>/<query>`` answers) at the last commit, wrapped in
the field named above when the query answers one record; ``stats`` and ``bonds``
combine several reads under the node's lock, so they come from one height
(``stats.py``). Amounts and ids are strings; heights and basis points are numbers.

Lists take the Cosmos SDK pagination (``paging.py``): ``pagination.key`` (the
``next_key`` of the page before), ``pagination.offset``, ``pagination.limit``
(default 100, at most 1000), ``pagination.count_total``, ``pagination.reverse``; they
answer ``"pagination": {"next_key": base64 or null, "total": "n"}``.

An ``{address}`` (path or query) is ``vcoin1…`` or ``0x…`` (EIP-55 checked in mixed
case). A bad parameter is a 400 whose message names it, a missing thing a 404, both in
the gateway's ``{"code", "message", "details"}``; never a 500 for bad input.

Swagger UI's files come from the npm package ``swagger-ui-dist``, pinned in
``ui/package.json`` + ``ui/package-lock.json`` and installed by
``scripts/setup-swagger-ui`` (``swagger.py``).
"""
