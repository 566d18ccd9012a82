-- SPDX-License-Identifier: Apache-2.0
-- wrk script of bench/run: POST a JSON body (WRK_BODY) with an optional
-- Prefer header (WRK_PREFER); the Authorization header comes from -H, or,
-- with WRK_AUTHS (Authorization values separated by commas), from each in
-- turn, request by request (so that concurrent requests are of different
-- users, as a site's are, and do not all wait for one user's rows).
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY") or '{"prompt":"benchmark create"}'
wrk.headers["Content-Type"] = "application/json"
local prefer = os.getenv("WRK_PREFER")
if prefer and prefer ~= "" then
    wrk.headers["Prefer"] = prefer
end
local auths = {}
for a in string.gmatch(os.getenv("WRK_AUTHS") or "", "[^,]+") do
    auths[#auths + 1] = a
end
if #auths > 0 then
    local n = 0
    request = function()
        n = n + 1
        wrk.headers["Authorization"] = auths[(n % #auths) + 1]
        return wrk.format()
    end
end
