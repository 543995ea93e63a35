-- bench-post.lua - wrk script for scripts/bench.
--
--   wrk -s scripts/bench-post.lua URL -- ASSERTIONS_FILE [SERVICE] [PATH]
--
-- POSTs {"assertion": A, "service": SERVICE} to PATH (default /v1/token),
-- A taken round-robin from ASSERTIONS_FILE (one JWT a line), so that every
-- request in a window of N carries a distinct assertion.  Each wrk thread
-- starts at its own offset.  The requests are formatted once, in init(),
-- with wrk.format(); request() only picks the next one, to keep the load
-- generator's own CPU cost low.  No response() callback is defined: that
-- would make wrk parse every response body.
--
-- done() prints one "key: value" line per figure, for scripts/bench:
--   requests, duration_us, bytes, errors_connect, errors_read,
--   errors_write, errors_timeout, errors_status (wrk counts a response
--   with a status above 399 there), latency_{p50,p90,p99,p999,max,mean}_us.

local threads = {}
local counter = 0

function setup(thread)
	thread:set("id", counter)
	counter = counter + 1
	table.insert(threads, thread)
end

local reqs = {}
local n = 0
local i = 0

local function read_lines(path)
	local f, err = io.open(path, "r")
	if f == nil then
		error("bench-post.lua: cannot open " .. tostring(path) .. ": " ..
		    tostring(err))
	end
	local lines = {}
	for line in f:lines() do
		line = line:gsub("[\r\n%s]+$", "")
		if #line > 0 then
			table.insert(lines, line)
		end
	end
	f:close()
	return lines
end

function init(args)
	local file = args[1]
	local service = args[2] or "sync-1.5"
	local path = args[3] or "/v1/token"
	if file == nil then
		error("bench-post.lua: usage: -- ASSERTIONS_FILE [SERVICE] [PATH]")
	end
	local lines = read_lines(file)
	if #lines == 0 then
		error("bench-post.lua: " .. file .. ": no assertions")
	end
	local headers = { ["Content-Type"] = "application/json" }
	for k, a in ipairs(lines) do
		-- JWTs are base64url and dots: nothing to escape in JSON.
		local body = '{"assertion": "' .. a .. '", "service": "' ..
		    service .. '"}'
		reqs[k] = wrk.format("POST", path, headers, body)
	end
	n = #reqs
	-- Spread the threads' starting points over the assertions.
	local id = tonumber(wrk.thread:get("id")) or 0
	i = (id * 7919) % n
end

function request()
	i = i + 1
	if i > n then
		i = 1
	end
	return reqs[i]
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("requests: %d\n", summary.requests))
	io.write(string.format("duration_us: %d\n", summary.duration))
	io.write(string.format("bytes: %d\n", summary.bytes))
	io.write(string.format("errors_connect: %d\n", e.connect))
	io.write(string.format("errors_read: %d\n", e.read))
	io.write(string.format("errors_write: %d\n", e.write))
	io.write(string.format("errors_timeout: %d\n", e.timeout))
	io.write(string.format("errors_status: %d\n", e.status))
	io.write(string.format("latency_p50_us: %d\n", latency:percentile(50)))
	io.write(string.format("latency_p90_us: %d\n", latency:percentile(90)))
	io.write(string.format("latency_p99_us: %d\n", latency:percentile(99)))
	io.write(string.format("latency_p999_us: %d\n",
	    latency:percentile(99.9)))
	io.write(string.format("latency_max_us: %d\n", latency.max))
	io.write(string.format("latency_mean_us: %.1f\n", latency.mean))
end
