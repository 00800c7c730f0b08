-- wrk script: every request is a distinct canonical alert (~600 bytes), signed with
-- Standard Webhooks over its exact bytes. HMAC and base64 come from OpenSSL's libcrypto,
-- which wrk itself links, through LuaJIT's FFI.
--   BENCH_SECRET=whsec_... BENCH_RUN=<unique> wrk -s signed-alerts.lua URL
local ffi = require("ffi")
ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                    const unsigned char *d, size_t n, unsigned char *md, unsigned int *md_len);
int EVP_DecodeBlock(unsigned char *t, const unsigned char *f, int n);
int EVP_EncodeBlock(unsigned char *t, const unsigned char *f, int n);
]]
local C = ffi.C

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
  table.insert(threads, thread)
end

local key, key_len, md, md_len, b64
-- Globals, not locals: done() reads them from each thread with thread:get().
counter, accepted, other = 0, 0, 0
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local template = '{"id":"%s","event_type":"edr.ransomware_behaviour","severity":"high",'
  .. '"organization":{"id":"org-%d","name":"Bench Organization %d","domain":"org%d.example.com"},'
  .. '"title":"Mass file renames on WS-%04d by an unsigned process",'
  .. '"description":"The EDR agent saw 412 files renamed with a .locked extension within 60 seconds; the process was isolated.",'
  .. '"occurred_at":"2026-05-01T10:00:00Z","user":"j.doe@org%d.example.com","ip":"203.0.113.9",'
  .. '"device":{"name":"WS-%04d","serial":"5CG1234XYZ","mac":"F8-75-A4-19-C6-22"},'
  .. '"details":{"process":"svc-update.exe","parent":"explorer.exe","files_renamed":412}}'

function init(args)
  local secret = os.getenv("BENCH_SECRET") or error("BENCH_SECRET is not set")
  local encoded = secret:gsub("^whsec_", "")
  key = ffi.new("unsigned char[?]", #encoded)
  key_len = C.EVP_DecodeBlock(key, encoded, #encoded)
  local _, padding = encoded:gsub("=", "")
  key_len = key_len - padding
  md = ffi.new("unsigned char[32]")
  md_len = ffi.new("unsigned int[1]")
  b64 = ffi.new("unsigned char[64]")
end

function request()
  counter = counter + 1
  local org = counter % 50
  local id = string.format("bench-%s-%d-%d", run, thread_id, counter)
  local body = string.format(template, id, org, org, org, counter % 10000, org, counter % 10000)
  local msg_id = "msg_" .. id
  local ts = tostring(os.time())
  local content = msg_id .. "." .. ts .. "." .. body
  C.HMAC(C.EVP_sha256(), key, key_len, content, #content, md, md_len)
  local n = C.EVP_EncodeBlock(b64, md, 32)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["webhook-id"] = msg_id,
    ["webhook-timestamp"] = ts,
    ["webhook-signature"] = "v1," .. ffi.string(b64, n),
  }, body)
end

function response(status, headers, body)
  if status == 202 then accepted = accepted + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  -- sent counts requests generated; those still unanswered when wrk stopped were received
  -- by the server (and may be queued) but have no answer here.
  local acc, oth, sent = 0, 0, 0
  for _, t in ipairs(threads) do
    acc = acc + t:get("accepted")
    oth = oth + t:get("other")
    sent = sent + t:get("counter")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'RESULT {"requests":%d,"sent":%d,"accepted":%d,"other":%d,"errors":%d,"seconds":%.2f,"rps":%.0f,"p50_ms":%.2f,"p99_ms":%.2f}\n',
    summary.requests, sent, acc, oth,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
