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
 * `claim` and `append` take the meta keys of one stream or several and
 * find each stream's other keys by their common prefix (the same slot);
 * the other scripts take KEYS = meta, log, lease, seen.
 *
 * An entry is one argument: its kind, `d` (plain data) or `e` (an event
 * with a type; `D` and `E` when terminal), then for `e`/`E` the type's
 * length in bytes, `:` and the type, then the data. A call carries few
 * arguments: the Redis client's cost is per argument.
 */
const WRITE_HELPERS = `
-- The stream's state when the lease (token, epoch) still holds and the log is not ended; nil otherwise.
local function check_write(meta, lease, token, epoch)
  if not token or redis.call('GET', lease) ~= token then return nil end
  local state = redis.call('HMGET', meta, 'epoch', 'ended', 'lastSeq', 'bytes', 'log', 'skip', 'skipped', 'skipFrom', 'skipTo')
  if not state[5] or state[1] ~= epoch or state[2] == '1' then return nil end
  return state
end
-- The first write after a takeover numbers its entries past the skipped seqs (recorded, so a retry can tell it landed).
local function after_skip(meta, state, last_seq)
  local skip = tonumber(state[6] or '0')
  if skip == 0 then return last_seq end
  local skipped = tonumber(state[7] or '0') + skip
  redis.call('HSET', meta, 'skip', '0', 'skipped', skipped, 'skipFrom', last_seq, 'skipTo', last_seq + skip)
  return last_seq + skip
end
-- ARGV[first..last] as kind, type, data triples, and their types' and data's bytes.
local function split_entries(first, last)
  local entries, size = {}, 0
  for i = first, last do
    local arg = ARGV[i]
    local kind = string.sub(arg, 1, 1)
    local etype, data = '', nil
    if kind == 'e' or kind == 'E' then
      local colon = string.find(arg, ':', 2, true)
      local length = tonumber(string.sub(arg, 2, colon - 1))
      etype = string.sub(arg, colon + 1, colon + length)
      data = string.sub(arg, colon + length + 1)
    else
      data = string.sub(arg, 2)
    end
    entries[#entries + 1] = kind
    entries[#entries + 1] = etype
    entries[#entries + 1] = data
    size = size + #etype + #data
  end
  return entries, size
end
local function append_entries(log, entries, last_seq)
  local seq = last_seq
  for i = 1, #entries, 3 do
    seq = seq + 1
    local kind = entries[i]
    if kind == 'e' then
      redis.call('XADD', log, seq .. '-0', 'e', entries[i + 1], 'd', entries[i + 2])
    elseif kind == 'E' then
      redis.call('XADD', log, seq .. '-0', 'e', entries[i + 1], 'd', entries[i + 2], 'end', '1')
    elseif kind == 'D' then
      redis.call('XADD', log, seq .. '-0', 'd', entries[i + 2], 'end', '1')
    else
      redis.call('XADD', log, seq .. '-0', 'd', entries[i + 2])
    end
  end
  return seq
end
-- The change message of a write: its entries, ["a", log, firstSeq, kind, type, data, ...] (JSON), so that readers on
-- other instances need no read for them; plain seq when the entries are many or large (readers read them).
local function entries_message(log_name, entries, size, first_seq, fallback)
  if #entries > 3 * 64 or size > 16384 then return fallback end
  local parts = {'a', log_name, first_seq}
  for i = 1, #entries do parts[#parts + 1] = entries[i] end
  return cjson.encode(parts)
end
`;

/**
 * claim, for one stream or several (on a Redis Cluster one a call): KEYS =
 * the streams' meta keys; ARGV = the publish command, then for each stream
 * a header, `"<newLog> <token> <leaseMs> <ttlMs> <hasOwner> <skip>"`
 * (hasOwner `1`/`0`; skip: the seqs to skip at a takeover, added to a skip
 * still pending, that of a takeover that wrote nothing), and its owner.
 * Answers, per stream, `{status}` or `{status, log, epoch, lastSeq,
 * hasResume, resume, skip}`.
 */
export const CLAIM = script(
  'claim',
  `
local function claim_one(meta, header, owner)
  local new_log, token, lease_ms, ttl_ms, has_owner, takeover_skip = string.match(header, '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$')
  local base = string.sub(meta, 1, -5)
  local log, lease = base .. 'log', base .. 'lease'
  local state = redis.call('HMGET', meta, 'log', 'epoch', 'owner', 'hasOwner', 'ended', 'lastSeq', 'resume')
  if not state[1] then
    redis.call('DEL', log, base .. 'seen')
    redis.call('HSET', meta, 'log', new_log, 'epoch', '1', 'owner', owner, 'hasOwner', has_owner, 'ended', '0', 'lastSeq', '0', 'bytes', '0')
    redis.call('PEXPIRE', meta, ttl_ms)
    redis.call('SET', lease, token, 'PX', lease_ms)
    return {'created', new_log, 1, 0, 0, ''}
  end
  if state[4] ~= has_owner or state[3] ~= owner then return {'forbidden'} end
  if state[5] == '1' then return {'ended'} end
  if redis.call('EXISTS', lease) == 1 then return {'held'} end
  local epoch = redis.call('HINCRBY', meta, 'epoch', 1)
  local skip = redis.call('HINCRBY', meta, 'skip', tonumber(takeover_skip))
  redis.call('SET', lease, token, 'PX', lease_ms)
  redis.call('PEXPIRE', meta, ttl_ms)
  redis.call('PEXPIRE', log, ttl_ms)
  redis.call(ARGV[1], base .. 'changes', 'claim')
  local has_resume = 0
  if state[7] then has_resume = 1 end
  return {'takenOver', state[1], epoch, tonumber(state[6]), has_resume, state[7] or '', skip}
end
local answers = {}
for k = 1, #KEYS do answers[k] = claim_one(KEYS[k], ARGV[2 * k], ARGV[2 * k + 1]) end
return answers
`,
);

/**
 * append, for one stream or several (each its own lease; on a Redis Cluster
 * one stream a call): KEYS = the streams' meta keys; ARGV = the publish
 * command, then for each stream in turn a header, `"<token> <epoch>
 * <leaseMs> <ttlMs> <maxEntries> <maxBytes> <count> <expected>"` (the
 * expected lastSeq, empty when not checked; then `+` and the resume point
 * when one is recorded), followed by its `count` entries. The change channel
 * is the meta key's, ending `changes` instead of `meta`. Answers, per
 * stream, `{seq, receivers}`: seq is its last seq, -1 (lease lost, log
 * expired, or not at the expected seq), -2 (maxEntries, skipped seqs not
 * counted) or -3 (maxBytes); receivers is how many subscribers its change
 * message reached, that is, how many instances follow the stream (1 when
 * nothing was published: a caller that cannot tell treats it as followed).
 * When the log already holds exactly these entries after the expected seq,
 * or after the seqs skipped there (an earlier try whose reply was lost),
 * answers their last seq, appending nothing.
 */
export const APPEND = script(
  'append',
  `${WRITE_HELPERS}
local function append_one(meta, header, first)
  local token, epoch, lease_ms, ttl_ms, max_entries, max_bytes, count, expected, resume =
    string.match(header, '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%d+) (%d*)(.*)$')
  count = tonumber(count)
  local base = string.sub(meta, 1, -5)
  local lease = base .. 'lease'
  local state = check_write(meta, lease, token, epoch)
  if not state then return -1, count, 1 end
  local last_seq = tonumber(state[3])
  if expected ~= '' and tonumber(expected) ~= last_seq then
    local landed = last_seq == tonumber(expected) + count or (state[8] == expected and last_seq == tonumber(state[9]) + count)
    if not landed then return -1, count, 1 end
    redis.call('PEXPIRE', lease, lease_ms)
    return last_seq, count, 1
  end
  if last_seq - tonumber(state[7] or '0') + count > tonumber(max_entries) then return -2, count, 1 end
  local entries, size = split_entries(first, first + count - 1)
  local bytes = tonumber(state[4]) + size
  if bytes > tonumber(max_bytes) then return -3, count, 1 end
  local log = base .. 'log'
  local seq = append_entries(log, entries, after_skip(meta, state, last_seq))
  redis.call('HSET', meta, 'lastSeq', seq, 'bytes', bytes)
  if resume ~= '' then redis.call('HSET', meta, 'resume', string.sub(resume, 2)) end
  redis.call('PEXPIRE', lease, lease_ms)
  redis.call('PEXPIRE', meta, ttl_ms)
  redis.call('PEXPIRE', log, ttl_ms)
  local receivers = redis.call(ARGV[1], base .. 'changes', entries_message(state[5], entries, size, seq - count + 1, seq))
  return seq, count, receivers
end
local answers = {}
local at = 2
for k = 1, #KEYS do
  local answer, count, receivers = append_one(KEYS[k], ARGV[at], at + 1)
  answers[k] = {answer, receivers}
  at = at + 1 + count
end
return answers
`,
);

/**
 * end: ARGV = lease (`"<token> <epoch>"`), ttlMs, publish command, channel,
 * then one terminal entry. Answers its seq, or -1 (lease lost, log expired
 * or already ended).
 */
export const END = script(
  'end',
  `${WRITE_HELPERS}
local token, epoch = string.match(ARGV[1], '^(%S+) (%S+)$')
local state = check_write(KEYS[1], KEYS[3], token, epoch)
if not state then return -1 end
local entries, size = split_entries(5, 5)
local seq = append_entries(KEYS[2], entries, after_skip(KEYS[1], state, tonumber(state[3])))
redis.call('HSET', KEYS[1], 'lastSeq', seq, 'ended', '1')
redis.call('DEL', KEYS[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call(ARGV[3], ARGV[4], entries_message(state[5], entries, size, seq, seq))
return seq
`,
);

/** renew: ARGV = lease (`"<token> <epoch>"`), leaseMs, ttlMs. Answers 1, or -1 (lease lost or log expired). */
export const RENEW = script(
  'renew',
  `${WRITE_HELPERS}
local token, epoch = string.match(ARGV[1], '^(%S+) (%S+)$')
if not check_write(KEYS[1], KEYS[3], token, epoch) then return -1 end
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`,
);

/** release: ARGV = lease (`"<token> <epoch>"`), publish command, channel. Answers 1, or -1 (not held). */
export const RELEASE = script(
  'release',
  `${WRITE_HELPERS}
local token, epoch = string.match(ARGV[1], '^(%S+) (%S+)$')
if not check_write(KEYS[1], KEYS[3], token, epoch) then return -1 end
redis.call('DEL', KEYS[3])
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
