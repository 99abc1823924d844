import { createHash } from 'node:crypto';

/** A Lua script and its SHA1, for `EVALSHA` with an `EVAL` fallback. */
export interface RelayScript {
  readonly name: string;
  readonly body: string;
  readonly sha: string;
}

function script(name: string, body: string): RelayScript {
  return { name, body, sha: createHash('sha1').update(body).digest('hex') };
}

/**
 * The keys of one stream: `meta` (a hash: log, epoch, owner, ended, lastSeq,
 * bytes, resume; after a takeover `skip`, the seqs the next write skips, then
 * `skipFrom`/`skipTo`, the last skip, and `skipped`, all seqs skipped so far),
 * `log` (a Redis stream whose entry ids are `<seq>-0`),
 * `lease` (the producer's token, expiring after `leaseMs`) and `seen` (when a
 * client last read). They share the hash tag `{streamId}`, so they live in
 * one Redis Cluster slot; the change channel carries the same tag.
 *
 * Every script takes KEYS = meta, log, lease, seen.
 */
const WRITE_PREAMBLE = `
local meta = KEYS[1]
local lease = KEYS[3]
local token, epoch = string.match(ARGV[1], '^(%S+) (%S+)$')
if not token or redis.call('GET', lease) ~= token then return -1 end
local state = redis.call('HMGET', meta, 'epoch', 'ended', 'lastSeq', 'bytes', 'log', 'skip', 'skipped', 'skipFrom', 'skipTo')
if not state[5] or state[1] ~= epoch or state[2] == '1' then return -1 end
local skipped = tonumber(state[7] or '0')
-- The first write after a takeover numbers its entries past the skipped seqs (recorded, so a retry can tell it landed).
local function after_skip(last_seq)
  local skip = tonumber(state[6] or '0')
  if skip == 0 then return last_seq end
  skipped = skipped + skip
  redis.call('HSET', meta, 'skip', '0', 'skipped', skipped, 'skipFrom', last_seq, 'skipTo', last_seq + skip)
  return last_seq + skip
end
`;

/**
 * Appends the entries of ARGV (after the fixed ones) in two-value groups:
 * the kind (`e` an event with a type, `d` plain data, `E`/`D` terminal)
 * followed by the type (one argument), then the data. A call carries few
 * arguments: the Redis client's cost is per argument.
 */
const APPEND_ENTRIES = `
local function append_entries(first, last_seq)
  local seq = last_seq
  for i = first, #ARGV, 2 do
    seq = seq + 1
    local kind = string.sub(ARGV[i], 1, 1)
    if kind == 'e' then
      redis.call('XADD', KEYS[2], seq .. '-0', 'e', string.sub(ARGV[i], 2), 'd', ARGV[i + 1])
    elseif kind == 'E' then
      redis.call('XADD', KEYS[2], seq .. '-0', 'e', string.sub(ARGV[i], 2), 'd', ARGV[i + 1], 'end', '1')
    elseif kind == 'D' then
      redis.call('XADD', KEYS[2], seq .. '-0', 'd', ARGV[i + 1], 'end', '1')
    else
      redis.call('XADD', KEYS[2], seq .. '-0', 'd', ARGV[i + 1])
    end
  end
  return seq
end
`;

/**
 * The change message of a write: its entries, `["a", log, firstSeq, kind,
 * type, data, ...]` (JSON), so that readers on other instances need no read
 * for them; plain `seq` when the entries are many or large (readers read them).
 */
const ENTRIES_MESSAGE = `
local function entries_message(first_arg, first_seq, fallback)
  if #ARGV - first_arg + 1 > 2 * 64 then return fallback end
  local size = 0
  for i = first_arg, #ARGV, 2 do size = size + #ARGV[i] - 1 + #ARGV[i + 1] end
  if size > 16384 then return fallback end
  local parts = {'a', state[5], first_seq}
  for i = first_arg, #ARGV, 2 do
    parts[#parts + 1] = string.sub(ARGV[i], 1, 1)
    parts[#parts + 1] = string.sub(ARGV[i], 2)
    parts[#parts + 1] = ARGV[i + 1]
  end
  return cjson.encode(parts)
end
`;

/**
 * claim: ARGV = newLog, token, leaseMs, ttlMs, owner, hasOwner (`1`/`0`),
 * publish command, channel, seqs to skip at a takeover (added to a skip
 * still pending: a takeover that wrote nothing). Answers `{status}` or
 * `{status, log, epoch, lastSeq, hasResume, resume, skip}`.
 */
export const CLAIM = script(
  'claim',
  `
local meta = KEYS[1]
local state = redis.call('HMGET', meta, 'log', 'epoch', 'owner', 'hasOwner', 'ended', 'lastSeq', 'resume')
if not state[1] then
  redis.call('DEL', KEYS[2], KEYS[4])
  redis.call('HSET', meta, 'log', ARGV[1], 'epoch', '1', 'owner', ARGV[5], 'hasOwner', ARGV[6], 'ended', '0', 'lastSeq', '0', 'bytes', '0')
  redis.call('PEXPIRE', meta, ARGV[4])
  redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
  return {'created', ARGV[1], 1, 0, 0, ''}
end
if state[4] ~= ARGV[6] or state[3] ~= ARGV[5] then return {'forbidden'} end
if state[5] == '1' then return {'ended'} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'held'} end
local epoch = redis.call('HINCRBY', meta, 'epoch', 1)
local skip = redis.call('HINCRBY', meta, 'skip', tonumber(ARGV[9]))
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
redis.call('PEXPIRE', meta, ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call(ARGV[7], ARGV[8], 'claim')
local has_resume = 0
if state[7] then has_resume = 1 end
return {'takenOver', state[1], epoch, tonumber(state[6]), has_resume, state[7] or '', skip}
`,
);

/**
 * append: ARGV = lease (`"<token> <epoch>"`), settings (`"<leaseMs>
 * <ttlMs> <maxEntries> <maxBytes> <publish command>"`), position (the
 * expected lastSeq, `''` when not checked, then `+` and the resume point
 * when one is recorded), then the entries. The first two are the same for
 * every append of a lease (built once), so that a call carries few
 * arguments. The change channel is the meta key's, ending `changes` instead
 * of `meta`. Answers the last seq, -1 (lease lost, log expired, or not at
 * the expected seq), -2 (maxEntries, skipped seqs not counted), -3
 * (maxBytes). When the log already holds exactly these entries after the
 * expected seq, or after the seqs skipped there (an earlier try whose reply
 * was lost), answers their last seq, appending nothing.
 */
export const APPEND = script(
  'append',
  `${WRITE_PREAMBLE}${APPEND_ENTRIES}${ENTRIES_MESSAGE}
local lease_ms, ttl_ms, max_entries, max_bytes, publish = string.match(ARGV[2], '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
local expected, resume = string.match(ARGV[3], '^(%d*)(.*)$')
local last_seq = tonumber(state[3])
local count = (#ARGV - 3) / 2
if expected ~= '' and tonumber(expected) ~= last_seq then
  local landed = last_seq == tonumber(expected) + count or (state[8] == expected and last_seq == tonumber(state[9]) + count)
  if not landed then return -1 end
  redis.call('PEXPIRE', lease, lease_ms)
  return last_seq
end
if last_seq - skipped + count > tonumber(max_entries) then return -2 end
local bytes = tonumber(state[4])
for i = 4, #ARGV, 2 do bytes = bytes + #ARGV[i] - 1 + #ARGV[i + 1] end
if bytes > tonumber(max_bytes) then return -3 end
local seq = append_entries(4, after_skip(last_seq))
redis.call('HSET', meta, 'lastSeq', seq, 'bytes', bytes)
if resume ~= '' then redis.call('HSET', meta, 'resume', string.sub(resume, 2)) end
redis.call('PEXPIRE', lease, lease_ms)
redis.call('PEXPIRE', meta, ttl_ms)
redis.call('PEXPIRE', KEYS[2], ttl_ms)
redis.call(publish, string.sub(meta, 1, -5) .. 'changes', entries_message(4, seq - count + 1, seq))
return seq
`,
);

/**
 * end: ARGV = lease (`"<token> <epoch>"`), ttlMs, publish command, channel,
 * then one terminal entry. Answers its seq, or -1 (lease lost, log expired
 * or already ended).
 */
export const END = script(
  'end',
  `${WRITE_PREAMBLE}${APPEND_ENTRIES}${ENTRIES_MESSAGE}
local seq = append_entries(5, after_skip(tonumber(state[3])))
redis.call('HSET', meta, 'lastSeq', seq, 'ended', '1')
redis.call('DEL', lease)
redis.call('PEXPIRE', meta, ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call(ARGV[3], ARGV[4], entries_message(5, seq, seq))
return seq
`,
);

/** renew: ARGV = lease (`"<token> <epoch>"`), leaseMs, ttlMs. Answers 1, or -1 (lease lost or log expired). */
export const RENEW = script(
  'renew',
  `${WRITE_PREAMBLE}
redis.call('PEXPIRE', lease, ARGV[2])
redis.call('PEXPIRE', meta, ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`,
);

/** release: ARGV = lease (`"<token> <epoch>"`), publish command, channel. Answers 1, or -1 (not held). */
export const RELEASE = script(
  'release',
  `${WRITE_PREAMBLE}
redis.call('DEL', lease)
redis.call(ARGV[2], ARGV[3], 'release')
return 1
`,
);

/**
 * read: ARGV = afterSeq, limit (0: state only), and optionally a read to
 * record as `touch` does: now, ttlMs, and the reader's owner (`0` none,
 * `1<owner>`), recorded only when the log has no owner or that one.
 * Answers `{}` for an unknown stream, else `{log, lastSeq, ended, leased,
 * hasOwner, owner, entries, seen}`, where entries are XRANGE's `{id,
 * fields}` (past the terminal entry, the terminal entry again) and seen is 1
 * when the read was recorded. Writes nothing else.
 */
export const READ = script(
  'read',
  `
local state = redis.call('HMGET', KEYS[1], 'log', 'lastSeq', 'ended', 'hasOwner', 'owner')
if not state[1] then return {} end
local leased = redis.call('EXISTS', KEYS[3])
local last_seq = tonumber(state[2])
local after = tonumber(ARGV[1])
local entries = {}
if tonumber(ARGV[2]) > 0 then
  if state[3] == '1' and after >= last_seq then
    entries = redis.call('XRANGE', KEYS[2], last_seq .. '-0', last_seq .. '-0')
  elseif after < last_seq then
    entries = redis.call('XRANGE', KEYS[2], (after + 1) .. '-0', '+', 'COUNT', ARGV[2])
  end
end
local seen = 0
if ARGV[3] and (state[4] ~= '1' or ARGV[5] == '1' .. (state[5] or '')) then
  redis.call('SET', KEYS[4], ARGV[3], 'PX', ARGV[4])
  seen = 1
end
return {state[1], last_seq, tonumber(state[3]), leased, tonumber(state[4]), state[5], entries, seen}
`,
);

/** touch: ARGV = now, ttlMs. Writes `seen` only when the stream exists. */
export const TOUCH = script(
  'touch',
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[2])
return 1
`,
);

export const RELAY_SCRIPTS = [CLAIM, APPEND, END, RENEW, RELEASE, READ, TOUCH] as const;
