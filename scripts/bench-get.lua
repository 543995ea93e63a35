-- bench-get.lua - wrk script for scripts/bench --nodes.
--
--   wrk -s scripts/bench-get.lua URL -- HEADERS_FILE
--
-- GETs URL's path with the headers of one line of HEADERS_FILE
-- ("AUTHORIZATION<TAB>X-KEYID", one user a line), round-robin, so that
-- every request in a window of N is another user.  The requests are
-- formatted once, in init(); request() only picks the next one.
--
-- done() prints "requests: N", "errors_status: N" (responses above 399),
-- "errors_socket: N" and "duration_us: N", one a line.

local counter = 0

function setup(thread)
	thread:set("id", counter)
	counter = counter + 1
end

local reqs = {}
local n = 0
local i = 0

function init(args)
	local f, err = io.open(args[1], "r")
	if f == nil then
		error("bench-get.lua: cannot open " .. tostring(args[1]) .. ": " ..
		    tostring(err))
	end
	for line in f:lines() do
		local auth, keyid = line:match("^([^\t]+)\t([^\t\r\n]+)")
		if auth ~= nil then
			n = n + 1
			reqs[n] = wrk.format("GET", wrk.path, {
				["Authorization"] = auth,
				["X-KeyID"] = keyid,
			})
		end
	end
	f:close()
	if n == 0 then
		error("bench-get.lua: no requests in " .. args[1])
	end
	i = (id or 0) * 7919 % n
end

function request()
	i = i % n + 1
	return reqs[i]
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("requests: %d\n", summary.requests))
	io.write(string.format("errors_status: %d\n", e.status))
	io.write(string.format("errors_socket: %d\n",
	    e.connect + e.read + e.write + e.timeout))
	io.write(string.format("duration_us: %d\n", summary.duration))
end
