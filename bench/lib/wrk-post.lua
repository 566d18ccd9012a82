-- SPDX-License-Identifier: Apache-2.0
-- wrk script of bench/run: POST a JSON body (WRK_BODY) with an optional
-- Prefer header (WRK_PREFER); the Authorization header comes from -H.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY") or '{"prompt":"benchmark create"}'
wrk.headers["Content-Type"] = "application/json"
local prefer = os.getenv("WRK_PREFER")
if prefer and prefer ~= "" then
    wrk.headers["Prefer"] = prefer
end
