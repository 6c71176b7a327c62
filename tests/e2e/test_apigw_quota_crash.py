"""Usage-plan quotas across a crash (SIGKILL, no shutdown flush): a quota's count is a durable
reservation taken before the request goes on, so the quota is never exceeded after a crash; a
limit under 32 reserves each request, so it stays exact: N allowed in all, N+1 → 429."""

from __future__ import annotations

import datetime
import signal

from gateway_helpers import request
from test_apigw_rest import keyed_api, rest_client_for


def test_quota_is_exact_across_a_sigkill(start_server):
    srv = start_server()
    rest = rest_client_for(srv.endpoint)
    limit = 6
    api_id, key, plan = keyed_api(rest, limit)
    rest.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    path = f"/_api/{api_id}/prod/paid"
    headers = {"x-api-key": key["value"]}
    for _ in range(4):
        assert request(srv.endpoint, "GET", path, headers=headers).status == 200

    # Killed at once: no shutdown flush, and the next 200 ms batch never ran.
    srv.stop(sig=signal.SIGKILL)
    srv = start_server(data_dir=srv.data_dir)
    rest = rest_client_for(srv.endpoint)
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    usage = rest.get_usage(usagePlanId=plan["id"], startDate=today, endDate=today)
    assert usage["items"] == {key["id"]: [[4, limit - 4]]}
    for _ in range(limit - 4):
        assert request(srv.endpoint, "GET", path, headers=headers).status == 200
    r = request(srv.endpoint, "GET", path, headers=headers)
    assert (r.status, r.json) == (429, {"message": "Limit Exceeded"}), r

    # Crashed again: still exactly used up.
    srv.stop(sig=signal.SIGKILL)
    srv = start_server(data_dir=srv.data_dir)
    r = request(srv.endpoint, "GET", path, headers=headers)
    assert (r.status, r.json) == (429, {"message": "Limit Exceeded"}), r
