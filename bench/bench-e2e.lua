-- bench-e2e.lua - wrk script of bench/bench-e2e.sh (the end-to-end part of
-- make bench).  Settings come from the environment:
--
--   E2E_METHOD   GET or POST
--   E2E_PATH     request path
--   E2E_BODIES   POST: a file with one body per line (base64 CSRs); line k
--                goes to thread (k - 1) % E2E_THREADS, each line is sent
--                once, and a thread stops when all of its lines have been
--                answered (the count bound; wrk's -d is the time bound)
--   E2E_COUNT    GET: requests per thread
--   E2E_THREADS  wrk's -t
--   E2E_CTYPE    Content-Type of POST bodies
--   E2E_AUTH     Authorization header value, or empty
--   E2E_CLOSE    1: "Connection: close" (a new TLS connection per request)
--   E2E_DONE     prefix of a marker file each thread writes when it stops,
--                so that bench-e2e.sh can end wrk's sleep with SIGINT
--
-- done() prints one line, "E2E sent=... ok=... non2xx=... errors=...
-- seconds=... rate=... p50=... p99=..." (latency in ms).  The rate is
-- counted from the first request to the last response (wrk's own duration
-- is its -d, however early the threads stopped).  wrk measures latency
-- from writing the request: with E2E_CLOSE=1 the TCP and TLS handshakes
-- are not in it (they are in the rate).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } e2e_timespec;
int clock_gettime(int clk, e2e_timespec *tp);
]]
local ts = ffi.new("e2e_timespec")
local function now()
	ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
	return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads = {}
local nthreads = 0

function setup(thread)
	thread:set("tid", nthreads)
	nthreads = nthreads + 1
	table.insert(threads, thread)
end

-- per thread
local reqs = {}
local n, sent, answered = 0, 0, 0
ok, non2xx, t0, t1 = 0, 0, 0, 0
local stopped = false

local filler
function init(args)
	filler = wrk.format("GET", "/e2e-static.txt")
	local method = os.getenv("E2E_METHOD") or "GET"
	local path = os.getenv("E2E_PATH") or "/"
	local nt = tonumber(os.getenv("E2E_THREADS") or "1")
	local headers = {}
	if os.getenv("E2E_CLOSE") == "1" then
		headers["Connection"] = "close"
	end
	local auth = os.getenv("E2E_AUTH") or ""
	if auth ~= "" then
		headers["Authorization"] = auth
	end
	if method == "POST" then
		headers["Content-Type"] = os.getenv("E2E_CTYPE") or "application/pkcs10"
		local k = 0
		for line in io.lines(os.getenv("E2E_BODIES")) do
			if k % nt == tid and line ~= "" then
				table.insert(reqs, wrk.format("POST", path, headers, line))
			end
			k = k + 1
		end
		n = #reqs
	else
		n = tonumber(os.getenv("E2E_COUNT") or "1000")
		reqs[1] = wrk.format("GET", path, headers)
	end
end

local function finish()
	if stopped then return end
	stopped = true
	local f = io.open((os.getenv("E2E_DONE") or "/tmp/e2e-done") .. "." .. tid, "w")
	if f then f:close() end
	wrk.thread:stop()
end

-- delay() runs before every request() of a connection (bench-e2e.sh sets
-- no --rate; wrk calls delay() whenever the script defines it): it reserves
-- the next line, or parks the connection once all are taken, so no line
-- is ever sent twice whatever the order of connections.
local reserved = 0
function delay()
	if reserved >= n then return 3600000 end
	reserved = reserved + 1
	return 0
end

-- wrk skips delay() for the first request on a connection it reopened
-- after a socket error (the request in flight is lost, and counted in
-- errors): a line beyond the reservations would then be sent twice, so
-- such a request is a GET of the static file instead.
-- wrk also calls request() once before the run, from its main thread,
-- to count pipelined requests: that call, before any delay(), sends
-- nothing and must not use up a line.
function request()
	if reserved == 0 then return reqs[1] end
	sent = sent + 1
	if t0 == 0 then t0 = now() end
	if sent > reserved then return filler end
	return reqs[#reqs > 1 and sent or 1]
end

function response(status, headers, body)
	answered = answered + 1
	t1 = now()
	if status >= 200 and status < 300 then ok = ok + 1 else non2xx = non2xx + 1 end
	if answered >= n then finish() end
end

function done(summary, latency, requests)
	local sok, snon, s0, s1, ssent = 0, 0, math.huge, 0, 0
	for _, t in ipairs(threads) do
		sok = sok + (t:get("ok") or 0)
		snon = snon + (t:get("non2xx") or 0)
		local a, b = t:get("t0") or 0, t:get("t1") or 0
		if a > 0 and a < s0 then s0 = a end
		if b > s1 then s1 = b end
	end
	local secs = (s1 > s0) and (s1 - s0) or 0
	local e = summary.errors
	io.write(string.format(
	    "E2E answered=%d ok=%d non2xx=%d errors=%d seconds=%.3f rate=%.1f p50=%.2f p99=%.2f\n",
	    sok + snon, sok, snon, e.connect + e.read + e.write + e.timeout, secs,
	    secs > 0 and (sok + snon) / secs or 0,
	    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
