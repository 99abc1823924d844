/**
 * The Lua scripts of `redisDurableLogStore` (internal). A stream `p` has a
 * hash `<prefix>{p}:m` (ct, media, pos, closed, cby, ttl, exp, expRaw,
 * access, sseq, from, foff, fsub, forks, gone), a sorted set `<prefix>{p}:d`
 * (members `<offset><base64 data>`, scored by position) and a hash
 * `<prefix>{p}:p` (producer id → `epoch:lastSeq:updatedAt`); changes are
 * published on `<prefix>{p}:c`. Every script's ARGV starts with the prefix,
 * the path and the time (ms). Sources of forks are reached by building their
 * keys in the script: a single Redis server, not a Cluster.
 * @internal
 */
import { createHash } from 'node:crypto';

/** A Lua script and its SHA1, for `EVALSHA` with an `EVAL` fallback. */
export interface DurableLogScript {
  readonly body: string;
  readonly sha: string;
}

const COMMON = `
local prefix, path, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local function keysOf(p) return prefix..'{'..p..'}:m', prefix..'{'..p..'}:d', prefix..'{'..p..'}:p', prefix..'{'..p..'}:c' end
local function offsetOf(pos) return string.format('%016d_%016d', 0, pos) end
local function expired(m)
  local e = redis.call('HGET', m, 'exp')
  if e and now >= tonumber(e) then return true end
  local ttl = redis.call('HGET', m, 'ttl')
  if ttl then
    local access = tonumber(redis.call('HGET', m, 'access') or '0')
    if now >= access + tonumber(ttl) * 1000 then return true end
  end
  return false
end
local function drop(p)
  local m, d, pr, c = keysOf(p)
  local src = redis.call('HGET', m, 'from')
  redis.call('DEL', m, d, pr)
  redis.call('PUBLISH', c, '1')
  if src then
    local sm = keysOf(src)
    if redis.call('EXISTS', sm) == 1 then
      local forks = redis.call('HINCRBY', sm, 'forks', -1)
      if forks <= 0 then
        redis.call('HSET', sm, 'forks', '0')
        if redis.call('HGET', sm, 'gone') == '1' then drop(src) end
      end
    end
  end
end
-- 'none', 'gone' or 'live'
local function stateOf(p)
  local m = keysOf(p)
  if redis.call('EXISTS', m) == 0 then return 'none' end
  if redis.call('HGET', m, 'gone') == '1' then return 'gone' end
  if expired(m) then
    if tonumber(redis.call('HGET', m, 'forks') or '0') > 0 then
      redis.call('HSET', m, 'gone', '1')
      return 'gone'
    end
    drop(p)
    return 'none'
  end
  return 'live'
end
local function metaOf(p)
  local m = keysOf(p)
  local v = redis.call('HMGET', m, 'ct', 'pos', 'closed', 'ttl', 'expRaw', 'gone')
  return { v[1] or '', offsetOf(tonumber(v[2])), v[3] or '0', v[4] or '', v[5] or '', v[6] or '0' }
end
-- members of p after position 'after' (-1: all), up to position 'cap' (-1: none), through its fork chain
local function collect(p, after, cap, out)
  local m, d = keysOf(p)
  local from = redis.call('HGET', m, 'from')
  if from then
    local foff = tonumber(redis.call('HGET', m, 'foffpos'))
    if after < foff then
      local sourceCap = foff
      if cap >= 0 and cap < foff then sourceCap = cap end
      if redis.call('EXISTS', (keysOf(from))) == 1 then collect(from, after, sourceCap, out) end
    end
  end
  local low = '-inf'
  if after >= 0 then low = '(' .. after end
  local high = '+inf'
  if cap >= 0 then high = cap end
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', d, low, high)) do out[#out + 1] = member end
  return out
end
`;

function script(body: string): DurableLogScript {
  const full = COMMON + body;
  return { body: full, sha: createHash('sha1').update(full).digest('hex') };
}

/**
 * ARGV: 4 ct, 5 media, 6 ttl, 7 exp (ms), 8 expRaw, 9 closed, 10 initial (base64 member data, '' none), 11 from,
 * 12 forkOffset (''), 13 forkSub (''), 14 prefix message (base64, '' none), 15 expected source tail ('' when not a fork).
 * Returns {'created'|'exists', meta...} or {'error', status, message}.
 */
export const CREATE = script(`
local m, d, pr, c = keysOf(path)
local st = stateOf(path)
if st == 'gone' then return { 'error', '409', 'The stream was deleted but still has forks: its path cannot be reused until they are removed.' } end
if st == 'live' then
  local v = redis.call('HMGET', m, 'media', 'ttl', 'expRaw', 'closed', 'from', 'foff', 'fsub')
  local requested = ARGV[5]
  if requested == '' then requested = 'application/octet-stream' end
  local same = v[1] == requested and (v[2] or '') == ARGV[6] and (v[3] or '') == ARGV[8] and (v[4] or '0') == ARGV[9]
    and (v[5] or '') == ARGV[11] and (ARGV[12] == '' or ARGV[12] == (v[6] or '')) and (v[7] or '0') == (ARGV[13] == '' and '0' or ARGV[13])
  if not same then return { 'error', '409', 'The stream exists with another configuration.' } end
  local meta = metaOf(path)
  table.insert(meta, 1, 'exists')
  return meta
end
local ct, media, ttl, exp, expRaw = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local pos = 0
local fields = { 'closed', ARGV[9], 'access', tostring(now), 'forks', '0', 'gone', '0' }
if ARGV[11] ~= '' then
  local src = ARGV[11]
  local sst = stateOf(src)
  if sst == 'none' then return { 'error', '404', 'Source stream not found' } end
  if sst == 'gone' then return { 'error', '409', 'The source stream was deleted but still has forks.' } end
  local sm = keysOf(src)
  local sv = redis.call('HMGET', sm, 'ct', 'media', 'pos', 'ttl', 'exp', 'expRaw')
  if ARGV[5] ~= '' and ARGV[4] ~= '' and ARGV[5] ~= sv[2] then return { 'error', '409', 'Content type mismatch with the source stream' } end
  if ARGV[15] ~= '' and ARGV[15] ~= offsetOf(tonumber(sv[3])) then return { 'retry' } end
  local foff = ARGV[12]
  if foff == '' then foff = offsetOf(tonumber(sv[3])) end
  if foff < offsetOf(0) or foff > offsetOf(tonumber(sv[3])) then return { 'error', '400', 'Fork offset beyond the source stream' } end
  pos = tonumber(string.sub(foff, 18))
  if ct == '' then ct = sv[1]; media = sv[2] end
  if ttl == '' and expRaw == '' then
    if sv[4] then ttl = sv[4] elseif sv[6] then exp = sv[5]; expRaw = sv[6] end
  end
  for _, f in ipairs({ 'from', src, 'foff', foff, 'foffpos', tostring(pos) }) do fields[#fields + 1] = f end
  if ARGV[13] ~= '' and ARGV[13] ~= '0' then fields[#fields + 1] = 'fsub'; fields[#fields + 1] = ARGV[13] end
  redis.call('HINCRBY', sm, 'forks', 1)
end
for _, data in ipairs({ ARGV[14], ARGV[10] }) do
  if data ~= '' then
    local size = tonumber(string.sub(data, 1, 12))
    pos = pos + size
    redis.call('ZADD', d, pos, offsetOf(pos) .. string.sub(data, 13))
  end
end
for _, f in ipairs({ 'ct', ct, 'media', media, 'pos', tostring(pos) }) do fields[#fields + 1] = f end
if ttl ~= '' then fields[#fields + 1] = 'ttl'; fields[#fields + 1] = ttl end
if expRaw ~= '' then fields[#fields + 1] = 'exp'; fields[#fields + 1] = exp; fields[#fields + 1] = 'expRaw'; fields[#fields + 1] = expRaw end
redis.call('HSET', m, unpack(fields))
local meta = metaOf(path)
table.insert(meta, 1, 'created')
return meta
`);

/**
 * ARGV: 4 request media ('' none), 5 json flag the data was prepared for ('1'/'0'), 6 data (12-digit size + base64, '' close only),
 * 7 close, 8 streamSeq ('' none), 9 producer id ('' none), 10 epoch, 11 seq, 12 producer state ttl (ms).
 */
export const APPEND = script(`
local m, d, pr, c = keysOf(path)
local st = stateOf(path)
if st == 'none' then return { 'error', '404', 'Stream not found' } end
if st == 'gone' then return { 'error', '410', 'Stream is gone' } end
local v = redis.call('HMGET', m, 'media', 'pos', 'closed', 'cby', 'sseq')
local pos = tonumber(v[2])
local pid, epoch, seq = ARGV[9], tonumber(ARGV[10]), tonumber(ARGV[11])
local tuple = pid .. '\\n' .. ARGV[10] .. '\\n' .. ARGV[11]
if v[3] == '1' then
  if pid ~= '' and v[4] == tuple then return { 'duplicate', ARGV[11], '1', offsetOf(pos) } end
  return { 'closed', offsetOf(pos) }
end
local closeOnly = ARGV[6] == ''
if not closeOnly and ARGV[4] ~= '' and ARGV[4] ~= v[1] then return { 'error', '409', 'Content-type mismatch' } end
if not closeOnly and ((v[1] == 'application/json') ~= (ARGV[5] == '1')) then return { 'retry' } end
local nextState
if pid ~= '' then
  local raw = redis.call('HGET', pr, pid)
  local cepoch, clast, cupdated
  if raw then
    local a, b, u = string.match(raw, '^(%d+):(%d+):(%d+)$')
    cepoch, clast, cupdated = tonumber(a), tonumber(b), tonumber(u)
    if now - cupdated > tonumber(ARGV[12]) then raw = nil end
  end
  if not raw or epoch > cepoch then
    if seq ~= 0 then
      if not raw then return { 'sequence-gap', '0', ARGV[11] } end
      return { 'invalid-epoch-seq' }
    end
    nextState = ARGV[10] .. ':0:' .. tostring(now)
  elseif epoch < cepoch then
    return { 'stale-epoch', tostring(cepoch) }
  elseif seq <= clast then
    return { 'duplicate', tostring(clast), '0', offsetOf(pos) }
  elseif seq ~= clast + 1 then
    return { 'sequence-gap', tostring(clast + 1), ARGV[11] }
  else
    nextState = ARGV[10] .. ':' .. ARGV[11] .. ':' .. tostring(now)
  end
end
if not closeOnly and ARGV[8] ~= '' and v[5] and ARGV[8] <= v[5] then return { 'error', '409', 'Sequence conflict' } end
if not closeOnly then
  pos = pos + tonumber(string.sub(ARGV[6], 1, 12))
  redis.call('ZADD', d, pos, offsetOf(pos) .. string.sub(ARGV[6], 13))
  redis.call('HSET', m, 'pos', tostring(pos))
  if ARGV[8] ~= '' then redis.call('HSET', m, 'sseq', ARGV[8]) end
end
if nextState then redis.call('HSET', pr, pid, nextState) end
local closed = '0'
if ARGV[7] == '1' then
  closed = '1'
  redis.call('HSET', m, 'closed', '1')
  if pid ~= '' then redis.call('HSET', m, 'cby', tuple) end
end
redis.call('HSET', m, 'access', tostring(now))
redis.call('PUBLISH', c, '1')
return { 'appended', offsetOf(pos), closed }
`);

/** ARGV: 4 'read' (renews the TTL, returns messages after ARGV 5, a position or -1) or 'head'. Returns {'none'} or {state, meta..., members...}. */
export const READ = script(`
local m = keysOf(path)
local st = stateOf(path)
if st == 'none' then return { 'none' } end
local meta = metaOf(path)
table.insert(meta, 1, st)
if ARGV[4] ~= 'read' then return meta end
if st == 'live' then redis.call('HSET', m, 'access', tostring(now)) end
return collect(path, tonumber(ARGV[5]), -1, meta)
`);

/** Returns 'none', 'gone' (already gone: 410) or 'deleted'. */
export const DELETE = script(`
local m, d, pr, c = keysOf(path)
local st = stateOf(path)
if st ~= 'live' then return st end
if tonumber(redis.call('HGET', m, 'forks') or '0') > 0 then
  redis.call('HSET', m, 'gone', '1')
  redis.call('PUBLISH', c, '1')
else
  drop(path)
end
return 'deleted'
`);
