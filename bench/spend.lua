-- wrk: POST /api/v1/billing/credits/spend as a service, one fresh
-- Idempotency-Key per request, a random user of BENCH_USERS (a file of user
-- ids, one per line) for each, and one of 50 service names in the metadata.
local users = {}
for line in io.lines(os.getenv("BENCH_USERS")) do
  if #line > 0 then users[#users + 1] = line end
end
local token = os.getenv("BENCH_TOKEN")
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local counter = 0
math.randomseed(os.time())

function request()
  counter = counter + 1
  local user = users[math.random(#users)]
  local body = string.format(
    '{"user_id":"%s","amount":1,"description":"bench","metadata":{"service":"svc-%d","model":"bench-model","units":1}}',
    user, counter % 50)
  return wrk.format("POST", nil, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("wrk-%s-%d-%d", os.getenv("BENCH_RUN") or "run", tid, counter),
  }, body)
end
