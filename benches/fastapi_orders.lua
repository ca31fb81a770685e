-- wrk script of benches/fastapi_load.py: POST /orders with a JSON order whose user
-- (the record key) changes every request, so records spread over the partitions as
-- benches/workload.py's keys do; count 201 responses apart from the rest; print one
-- machine-readable line from done().
--
-- Each wrk thread runs this file in a Lua state of its own: the counters are
-- globals, so done() (in the main state) reads them with thread:get().

local threads = {}
local headers = { ["Content-Type"] = "application/json" }

function setup(thread)
   thread:set("thread_id", #threads)
   table.insert(threads, thread)
end

function init(args)
   sent = 0
   created = 0
   other = 0
end

function request()
   sent = sent + 1
   local user = (thread_id * 7919 + sent) % 1000
   local body = string.format(
      '{"user_id":"user-%d","amount":12.5,"items":["sku-1","sku-2"]}', user)
   return wrk.format("POST", "/orders", headers, body)
end

function response(status, headers, body)
   if status == 201 then
      created = created + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local created_total, other_total = 0, 0
   for _, thread in ipairs(threads) do
      created_total = created_total + thread:get("created")
      other_total = other_total + thread:get("other")
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_RESULT {"responses":%d,"created":%d,"other_status":%d,"duration_us":%d,'
         .. '"p50_us":%d,"p99_us":%d,"max_us":%d,"connect_errors":%d,"read_errors":%d,'
         .. '"write_errors":%d,"timeouts":%d}\n',
      summary.requests, created_total, other_total, summary.duration,
      latency:percentile(50), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.timeout))
end
