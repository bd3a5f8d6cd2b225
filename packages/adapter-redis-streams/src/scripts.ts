import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/**
 * A Lua script run with `EVALSHA`, falling back to `EVAL` when the server does not have it (yet,
 * or any more: a restart, a `SCRIPT FLUSH`). The adapter's scripts and the idempotency store's
 * share it. On a cluster, every key a script touches must be in one slot.
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script; replies come back in buffer mode (bulk strings as `Buffer`s). */
  async run(
    redis: Redis | Cluster,
    keys: readonly string[],
    args: readonly (string | Buffer | number)[],
  ): Promise<unknown> {
    try {
      return await redis.callBuffer('evalsha', this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.callBuffer('eval', this.source, keys.length, ...keys, ...args);
    }
  }
}

// Shared Lua helpers. Entries a claim returns are {stream index, id, fields, deliveries, retry
// headers or false}; `deliveries` is the group's delivery count after the claim.
const CLAIMED_ENTRY = `
local function claimed_entry(index, stream, group, hdr_key, id, claimed)
  local entry = claimed[1]
  if not entry then
    redis.call('HDEL', hdr_key, id)
    return nil
  end
  local pending = redis.call('XPENDING', stream, group, id, id, 1)[1]
  return { index, entry[1], entry[2], pending[4], redis.call('HGET', hdr_key, id) }
end
`;

/**
 * Moves retries that are due back to the calling member: takes their ids off the due set and
 * claims them (the claim raises their delivery count). Server time decides what is due.
 * KEYS: per stream, the stream, its due set and its retry-headers hash.
 * ARGV: group, consumer, most entries to claim. Returns claimed entries.
 */
export const claimDue = new LuaScript(
  'claim-due',
  `${CLAIMED_ENTRY}
local group, consumer, budget = ARGV[1], ARGV[2], tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local out = {}
for i = 1, #KEYS, 3 do
  if budget <= 0 then break end
  local ids = redis.call('ZRANGEBYSCORE', KEYS[i + 1], '-inf', string.format('%.3f', now), 'LIMIT', 0, budget)
  for _, id in ipairs(ids) do
    redis.call('ZREM', KEYS[i + 1], id)
    local entry = claimed_entry((i + 2) / 3, KEYS[i], group, KEYS[i + 2], id,
      redis.call('XCLAIM', KEYS[i], group, consumer, 0, id))
    if entry then
      out[#out + 1] = entry
      budget = budget - 1
    end
  end
end
return out
`,
);

/**
 * Claims entries other members left pending longer than the idle limit, skipping entries that
 * wait for a retry (the due set owns those). Scans from a cursor per stream, a page at a time,
 * so that many waiting retries at the head of the pending list cannot hide the entries behind.
 * KEYS: per stream, the stream, its due set and its retry-headers hash.
 * ARGV: group, consumer, min idle ms, most entries to claim, page size, then one cursor per
 * stream ('-' or '(<id>'). Returns {next cursors, claimed entries}.
 */
export const claimIdle = new LuaScript(
  'claim-idle',
  `${CLAIMED_ENTRY}
local group, consumer, min_idle = ARGV[1], ARGV[2], tonumber(ARGV[3])
local budget, page = tonumber(ARGV[4]), tonumber(ARGV[5])
local cursors, out = {}, {}
for i = 1, #KEYS, 3 do
  local index = (i + 2) / 3
  local cursor = ARGV[5 + index]
  if budget > 0 then
    local pending = redis.call('XPENDING', KEYS[i], group, 'IDLE', min_idle, cursor, '+', page)
    local examined = 0
    for _, p in ipairs(pending) do
      if budget <= 0 then break end
      local id = p[1]
      if not redis.call('ZSCORE', KEYS[i + 1], id) then
        local entry = claimed_entry(index, KEYS[i], group, KEYS[i + 2], id,
          redis.call('XCLAIM', KEYS[i], group, consumer, min_idle, id))
        if entry then
          out[#out + 1] = entry
          budget = budget - 1
        end
      end
      examined = examined + 1
      cursor = '(' .. id
    end
    if examined == #pending and #pending < page then cursor = '-' end
  end
  cursors[index] = cursor
end
return { cursors, out }
`,
);

// Runs f(stream, ids) over the ARGV layout "per stream: count, ids..." starting at ARGV[first].
const FOR_EACH_ID_LIST = `
local function for_each_id_list(first, f)
  local a = first
  for i = 1, #KEYS do
    local n = tonumber(ARGV[a])
    local ids = {}
    for j = 1, n do ids[j] = ARGV[a + j] end
    a = a + n + 1
    f(KEYS[i], ids)
  end
end
local function owned_by(stream, group, consumer, id)
  local p = redis.call('XPENDING', stream, group, id, id, 1)[1]
  if p and p[2] == consumer then return p end
  return nil
end
`;

/**
 * Resets the idle time of entries the member still owns (a claim with JUSTID, which leaves the
 * delivery count alone), so no other member takes them while their handlers run. Entries another
 * member has claimed meanwhile are left to it.
 * KEYS: streams. ARGV: group, consumer, then per stream: count, ids. Returns how many were refreshed.
 */
export const touch = new LuaScript(
  'touch',
  `${FOR_EACH_ID_LIST}
local group, consumer, touched = ARGV[1], ARGV[2], 0
for_each_id_list(3, function(stream, ids)
  local owned = {}
  for _, id in ipairs(ids) do
    if owned_by(stream, group, consumer, id) then owned[#owned + 1] = id end
  end
  -- In chunks: unpack() has a limit on how many values it can pass.
  for first = 1, #owned, 500 do
    local args = { 'XCLAIM', stream, group, consumer, 0 }
    for j = first, math.min(first + 499, #owned) do args[#args + 1] = owned[j] end
    args[#args + 1] = 'JUSTID'
    touched = touched + #redis.call(unpack(args))
  end
end)
return touched
`,
);

/**
 * Gives back entries the member holds but will not settle (closing, or an ordered stream's lease
 * lost): each is made to look long idle, so the next member claims it at once. For entries never
 * handed to a handler (`uncount` = '1') the delivery count is put back as it was.
 * KEYS: streams. ARGV: group, consumer, idle ms to set, uncount, then per stream: count, ids.
 */
export const release = new LuaScript(
  'release',
  `${FOR_EACH_ID_LIST}
local group, consumer, idle, uncount, released = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1', 0
for_each_id_list(5, function(stream, ids)
  for _, id in ipairs(ids) do
    local p = owned_by(stream, group, consumer, id)
    if p then
      local count = tonumber(p[4])
      if uncount then count = math.max(count - 1, 0) end
      redis.call('XCLAIM', stream, group, consumer, 0, id, 'IDLE', idle, 'RETRYCOUNT', count, 'JUSTID')
      released = released + 1
    end
  end
end)
return released
`,
);

/**
 * Finds the member's own pending entries that it does not hold: a read whose reply was lost when
 * the connection dropped. Entries waiting for a retry (in the due set) are not lost. Reads them
 * with XRANGE, so their delivery count stays as it is (they never reached a handler); an entry
 * deleted meanwhile is acknowledged away.
 * KEYS: per stream, the stream, its due set and its retry-headers hash.
 * ARGV: group, consumer, page size, then per stream: a cursor ('-' or '(<id>'), count, held ids.
 * Returns {next cursors or false when done, entries}.
 */
export const ownPending = new LuaScript(
  'own-pending',
  `
local group, consumer, page = ARGV[1], ARGV[2], tonumber(ARGV[3])
local a, cursors, out = 4, {}, {}
for i = 1, #KEYS, 3 do
  local index = (i + 2) / 3
  local cursor, n = ARGV[a], tonumber(ARGV[a + 1])
  local held = {}
  for j = 1, n do held[ARGV[a + 1 + j]] = true end
  a = a + n + 2
  local pending = redis.call('XPENDING', KEYS[i], group, cursor, '+', page, consumer)
  for _, p in ipairs(pending) do
    local id = p[1]
    if not held[id] and not redis.call('ZSCORE', KEYS[i + 1], id) then
      local entry = redis.call('XRANGE', KEYS[i], id, id)[1]
      if entry then
        out[#out + 1] = { index, id, entry[2], p[4], redis.call('HGET', KEYS[i + 2], id) }
      else
        redis.call('XACK', KEYS[i], group, id)
        redis.call('HDEL', KEYS[i + 2], id)
      end
    end
    cursor = '(' .. id
  end
  if #pending < page then cursor = false end
  cursors[index] = cursor
end
return { cursors, out }
`,
);

/**
 * Takes an ordered stream over for its new lease holder: claims, in id order, the entries other
 * members left pending, each once it has been idle at least `min_idle` ms or at once when its
 * owner is no longer a live member (its place in the members set ran out: it died, or its event
 * loop stalled past the lease). It stops at the first entry a live member still works on (touched
 * recently): the entries after it may share its key. Entries waiting for a retry are claimed
 * without raising their delivery count (JUSTID) and come back with their due time; they are
 * claimed again, counted, when due.
 * KEYS: stream, due set, retry-headers hash, members of the stream's topic (left out on a cluster,
 * where it lies in another slot: the live members are then read first, see `liveMembers`).
 * ARGV: group, consumer, min idle ms, page size, cursor[, the live members when KEYS[4] is left out].
 * Returns {next cursor or false when done, 1 if stopped at a busy entry else 0, entries}; an entry
 * is {1, id, fields, deliveries, retry headers or false[, ms until its retry is due]}.
 */
export const takeOver = new LuaScript(
  'take-over',
  `${CLAIMED_ENTRY}
local group, consumer, min_idle, page, cursor = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local pending = redis.call('XPENDING', KEYS[1], group, cursor, '+', page)
local out, busy = {}, 0
local live = {}
for i = 6, #ARGV do live[ARGV[i]] = true end
for _, p in ipairs(pending) do
  local id, owner, idle = p[1], p[2], tonumber(p[3])
  if owner ~= consumer then
    local claim_idle = min_idle
    if idle < min_idle then
      local alive
      if KEYS[4] then
        local live_until = redis.call('ZSCORE', KEYS[4], owner)
        alive = live_until and tonumber(live_until) > now
      else
        alive = live[owner]
      end
      if alive then
        busy = 1
        break
      end
      claim_idle = 0
    end
    local due = redis.call('ZSCORE', KEYS[2], id)
    if due then
      redis.call('XCLAIM', KEYS[1], group, consumer, claim_idle, id, 'JUSTID')
      local entry = redis.call('XRANGE', KEYS[1], id, id)[1]
      if entry then
        out[#out + 1] = { 1, id, entry[2], p[4], redis.call('HGET', KEYS[3], id), math.max(0, math.ceil(tonumber(due) - now)) }
      else
        redis.call('XACK', KEYS[1], group, id)
        redis.call('ZREM', KEYS[2], id)
        redis.call('HDEL', KEYS[3], id)
      end
    else
      local entry = claimed_entry(1, KEYS[1], group, KEYS[3], id,
        redis.call('XCLAIM', KEYS[1], group, consumer, claim_idle, id))
      if entry then out[#out + 1] = entry end
    end
  end
  cursor = '(' .. id
end
if busy == 0 and #pending < page then cursor = false end
return { cursor, busy, out }
`,
);

/**
 * Claims one entry back for its retry, when due: off the due set, delivery count raised.
 * KEYS: stream, due set, retry-headers hash. ARGV: group, consumer, id.
 * Returns the entry, or nil when it is gone (deleted, or settled by another member).
 */
export const claimOne = new LuaScript(
  'claim-one',
  `${CLAIMED_ENTRY}
redis.call('ZREM', KEYS[2], ARGV[3])
return claimed_entry(1, KEYS[1], ARGV[1], KEYS[3], ARGV[3],
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3]))
`,
);

/**
 * Takes or renews the lease on an ordered stream for a group; with `renew only` = '1', never takes it.
 * KEYS: lease. ARGV: consumer, ttl ms, renew only. Returns 2 when newly taken, 1 when renewed, 0
 * when another member holds it (or, renewing only, nobody does).
 */
export const holdLease = new LuaScript(
  'hold-lease',
  `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder or ARGV[3] == '1' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 2
`,
);

/**
 * Counts a member of an ordered subscription in for `ttl` ms more and tells how many count: its
 * heartbeat, by which the others know it is alive (see `takeOver`) and share shards with it.
 * KEYS: members. ARGV: consumer, ttl ms. Returns the number of members.
 */
export const countMembers = new LuaScript(
  'count-members',
  `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
`,
);

/**
 * The members of an ordered subscription that still count (their place has not run out), by the
 * server's clock. KEYS: members. Returns their names.
 */
export const liveMembers = new LuaScript(
  'live-members',
  `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
return redis.call('ZRANGEBYSCORE', KEYS[1], string.format('(%.3f', now), '+inf')
`,
);

/**
 * Records a topic's shard count, or reads the one recorded first.
 * KEYS: shards. ARGV: count. Returns the recorded count.
 */
export const shardCount = new LuaScript(
  'shard-count',
  `
local recorded = redis.call('GET', KEYS[1])
if recorded then return tonumber(recorded) end
redis.call('SET', KEYS[1], ARGV[1])
return tonumber(ARGV[1])
`,
);

/** Gives a lease up if this member holds it. KEYS: lease. ARGV: consumer. */
export const dropLease = new LuaScript(
  'drop-lease',
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
);

/**
 * Schedules the retry of a pending entry: due at server time + delay (to the microsecond), with
 * the headers the retry adds. The entry stays pending in the group, so only this group sees it
 * again. KEYS: due set, retry-headers hash. ARGV: id, delay ms, headers JSON. Returns the due time.
 */
export const scheduleRetry = new LuaScript(
  'schedule-retry',
  `
local time = redis.call('TIME')
local due = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000 + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], string.format('%.3f', due), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return math.ceil(due)
`,
);

/**
 * Publishes a dead letter and then acknowledges the original. A failing XADD (a key of another
 * type, out of memory) stops the script before the XACK, so a record is never acknowledged
 * without its dead letter.
 * KEYS: source stream, dead-letter stream, retry-headers hash, due set.
 * ARGV: group, id, then the dead letter's fields. Returns the dead letter's id.
 */
export const deadLetter = new LuaScript(
  'dead-letter',
  `
local added = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[2])
return added
`,
);

/**
 * The second step of a dead letter on a cluster, once it is written to a stream of another slot:
 * acknowledges the original and drops its retry state.
 * KEYS: source stream, retry-headers hash, due set. ARGV: group, id. Returns what XACK returns.
 */
export const settleDeadLettered = new LuaScript(
  'settle-dead-lettered',
  `
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return acked
`,
);

/**
 * Removes consumers of the group with nothing pending: `consumer` itself when `min_idle` is '-'
 * (a closing member), otherwise every other consumer idle at least `min_idle` ms (members that
 * died; a live one is simply made again by its next read).
 * KEYS: streams. ARGV: group, consumer, min idle ms or '-'. Returns how many were removed.
 */
export const forgetConsumers = new LuaScript(
  'forget-consumers',
  `
local group, consumer, min_idle, removed = ARGV[1], ARGV[2], ARGV[3], 0
for i = 1, #KEYS do
  local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[i], group)
  if ok then
    for _, c in ipairs(consumers) do
      local info = {}
      for k = 1, #c, 2 do info[c[k]] = c[k + 1] end
      local mine = info['name'] == consumer
      local stale = min_idle ~= '-' and not mine and info['idle'] >= tonumber(min_idle)
      if info['pending'] == 0 and ((min_idle == '-' and mine) or stale) then
        redis.call('XGROUP', 'DELCONSUMER', KEYS[i], group, info['name'])
        removed = removed + 1
      end
    end
  end
end
return removed
`,
);

/**
 * Trims a stream to a length and/or an age. With `keep` = '1' it never removes an entry some
 * group has not settled: the floor is the smallest id any group still needs (its first pending
 * entry, or the entry after its last delivered one), and trimming stops below it. Approximate
 * trimming (`~`) only removes whole stream nodes, so it never goes further than asked. A stream
 * that does not exist (nothing published yet) has nothing to trim: 0, where `XINFO` would fail.
 * KEYS: stream. ARGV: max length (0: none), max age ms (0: none), keep ('1' or '0').
 * Returns how many entries were removed.
 */
export const trim = new LuaScript(
  'trim',
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local max_length, max_age, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1'
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return { tonumber(ms), tonumber(seq) }
end
local function less(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end
local function text(id) return string.format('%.0f-%.0f', id[1], id[2]) end

local floor = nil
if keep then
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local info = {}
    for k = 1, #g, 2 do info[g[k]] = g[k + 1] end
    local need
    if info['pending'] > 0 then
      need = parse(redis.call('XPENDING', KEYS[1], info['name'])[2])
    else
      need = parse(info['last-delivered-id'])
      need[2] = need[2] + 1
    end
    if floor == nil or less(need, floor) then floor = need end
  end
end

local removed = 0
if max_age > 0 then
  local time = redis.call('TIME')
  local threshold = { tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) - max_age, 0 }
  if floor ~= nil and less(floor, threshold) then threshold = floor end
  removed = removed + redis.call('XTRIM', KEYS[1], 'MINID', '~', text(threshold))
end
if max_length > 0 then
  local excess = redis.call('XLEN', KEYS[1]) - max_length
  if excess > 0 then
    if floor == nil then
      removed = removed + redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', max_length)
    else
      -- Below the floor only, and never more than the excess.
      removed = removed + redis.call('XTRIM', KEYS[1], 'MINID', '~', text(floor), 'LIMIT', excess)
    end
  end
end
return removed
`,
);

/**
 * Redrives one dead letter to its failed group only: finds the original entry (still in its
 * stream, with the same event id), makes it pending again for the group alone (`XCLAIM ... FORCE`
 * to a placeholder consumer, delivery count 0) and due at once in the group's due set, so that a
 * member of the group claims it as it claims a due retry; then deletes the dead letter. All in one
 * script: the dead letter is gone only if its original is pending for the group again.
 * KEYS: the dead-letter stream, then per candidate stream of the original: the stream, its due set
 * and its retry-headers hash. ARGV: group, placeholder consumer, dead letter's id, the event-id
 * header name. Returns {'redriven'}, {'missing'} or {'refused', reason}.
 */
export const redrive = new LuaScript(
  'redrive',
  `
local group, consumer, letter_id, id_header = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ok, found = pcall(redis.call, 'XRANGE', KEYS[1], letter_id, letter_id)
if not ok or not found[1] then return { 'missing' } end
local fields = found[1][2]
local position, event_id
for i = 1, #fields, 2 do
  if fields[i] == 'tidings-dlq-original-position' then position = fields[i + 1]
  elseif fields[i] == id_header then event_id = fields[i + 1] end
end
if not position then return { 'refused', 'the dead letter does not say where its original is' } end
for i = 2, #KEYS, 3 do
  local read, entries = pcall(redis.call, 'XRANGE', KEYS[i], position, position)
  local original = read and entries[1]
  if original then
    local same = event_id == nil
    if not same then
      local g = original[2]
      for k = 1, #g, 2 do
        if g[k] == id_header and g[k + 1] == event_id then same = true end
      end
    end
    if same then
      local claimed, err = pcall(redis.call, 'XCLAIM', KEYS[i], group, consumer, 0, position, 'FORCE', 'RETRYCOUNT', 0, 'JUSTID')
      if not claimed then return { 'refused', type(err) == 'table' and err.err or tostring(err) } end
      local time = redis.call('TIME')
      local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
      redis.call('HDEL', KEYS[i + 2], position)
      redis.call('ZADD', KEYS[i + 1], string.format('%.3f', now), position)
      redis.call('XDEL', KEYS[1], letter_id)
      return { 'redriven' }
    end
  end
end
return { 'refused', 'the original entry ' .. position .. ' is no longer in its stream (trimmed), so it cannot be given to the group alone' }
`,
);

/**
 * On a cluster, where a dead letter and its original lie in different slots, the part of `redrive`
 * on one candidate stream of the original: given where the original is and its event id (read
 * from the dead letter first), makes it pending again for the group alone and due at once. The
 * caller then deletes the dead letter; a crash between the two leaves both, so the record may be
 * redriven twice (a duplicate, never a loss).
 * KEYS: the stream, its due set, its retry-headers hash.
 * ARGV: group, placeholder consumer, position, event-id header name, event id ('' when none).
 * Returns {'redriven'}, {'absent'} (no such original here) or {'refused', reason}.
 */
export const redriveOriginal = new LuaScript(
  'redrive-original',
  `
local group, consumer, position, id_header, event_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local read, entries = pcall(redis.call, 'XRANGE', KEYS[1], position, position)
local original = read and entries[1]
if not original then return { 'absent' } end
local same = event_id == ''
if not same then
  local g = original[2]
  for k = 1, #g, 2 do
    if g[k] == id_header and g[k + 1] == event_id then same = true end
  end
end
if not same then return { 'absent' } end
local claimed, err = pcall(redis.call, 'XCLAIM', KEYS[1], group, consumer, 0, position, 'FORCE', 'RETRYCOUNT', 0, 'JUSTID')
if not claimed then return { 'refused', type(err) == 'table' and err.err or tostring(err) } end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
redis.call('HDEL', KEYS[3], position)
redis.call('ZADD', KEYS[2], string.format('%.3f', now), position)
return { 'redriven' }
`,
);
