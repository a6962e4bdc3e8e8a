"""The shared moderation store: flags, moderators, sessions, audit and sanctions in Redis.

Every key shares the hash tag `{mod}` (house style, as `harbor:{room:R}:` in rooms.broker_redis),
so the whole queue lives in one Redis Cluster slot and a script may touch any flag:
- `harbor:{mod}:flag:<id>`       hash: `id`, `key`, `severity`, `draft` (JSON), the state fields
                                  (layout in casework.flag_codec, shared with the SQLite store)
- `harbor:{mod}:flagkey:<key>`   string: the flag id raised with that idempotency key
- `harbor:{mod}:flags:live`      zset: open and claimed flag ids by urgency score
- `harbor:{mod}:flags:resolved`  zset: resolved flag ids by resolved_ms
- `harbor:{mod}:due`             zset: OPEN flag ids by due_ms (claimed ones are never due)
- `harbor:{mod}:leases`          zset: CLAIMED flag ids by lease_until_ms
- `harbor:{mod}:backup`          zset: crisis flag ids never claimed since raised (or reopened),
                                  by backup_due_ms: when the backup list is called
- `harbor:{mod}:moderators`      hash: name -> password hash
- `harbor:{mod}:roles`           hash: name -> role (an account without one is a volunteer)
- `harbor:{mod}:rota`            hash: name -> that moderator's weekly shifts (JSON list)
- `harbor:{mod}:session:<hash>`  string: "<expires_ms> <password fingerprint> <name>", expiring
                                 at expires_ms (PXAT); a new password or a removal ends it
- `harbor:{mod}:claims:<hash>`   set: the flag ids a session claimed, expiring with the session
- `harbor:{mod}:audit`           zset: "<seq, 16 digits>:<entry JSON>" by at_ms; `audit:seq` counter
- `harbor:{mod}:sanction:<uid>`  zset: sanction JSON by until_ms, expiring with the last one
                                 (a network hold's <uid> is its source key, `source:<hash>`)
- `harbor:{mod}:holds:<uid>`     zset: the source keys the ban of <uid> holds, by that ban's
                                 until_ms, expiring with the last one (`end_holds` reads it)
- `harbor:{mod}:notes:<subject>` zset: "<seq, 16 digits>:<note JSON>" by at_ms, the notes on a
                                 flag (subject: its id) or the shift hand-over notes
                                 (subject: `handover`); `notes:seq` counter
- `harbor:{mod}:mark:<key>`      string: something done once until it expires (`first_to_mark`)
- `harbor:{mod}:revoked:<uid>`   string: "<before_ms> <until_ms>", expiring at until_ms (PXAT):
                                 the identity's tokens issued before before_ms are revoked

Every change that more than one worker could race on is ONE Lua script, so the state field in the
hash and the index zsets can never disagree, two moderators claiming at once get exactly one
winner, and `lapse_expired` / `take_overdue` hand each flag to exactly one caller. The scripts
never do arithmetic on times (Lua numbers print large values in exponent form): Python computes
every new time and passes it in.

The urgency score packs severity rank and age into one exact double:
`rank * 10**13 + created_ms` (created_ms < 10**13 until the year 2286). Equal scores order by id,
as the SQLite store's `ORDER BY severity_rank, created_ms, id` does.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import anyio.lowlevel
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError, RedisError

from casework.flag_codec import (
    audit_from_json,
    audit_to_json,
    draft_from_json,
    draft_to_json,
    flag_from_fields,
    flag_to_fields,
    note_from_json,
    note_to_json,
    sanction_from_json,
    sanction_to_json,
    severity_rank,
    without_message,
)
from casework.flags import (
    DEFAULT_TARGETS,
    HANDOVER,
    SEARCH_SCAN_LIMIT,
    SEVERITY_ORDER,
    AuditEntry,
    CaseNote,
    CaseQuery,
    ClaimConflict,
    Flag,
    FlagDraft,
    FlagError,
    FlagState,
    Outcome,
    Raised,
    ResponseTargets,
    Revocation,
    Sanction,
    new_flag,
)
from casework.roles import DEFAULT_ROLE, Role, parse_role
from casework.rota import Shift, shifts_from_json, shifts_to_json
from rooms.batching import BatchFailed, TurnBatch
from rooms.scripts import load_everywhere, with_scripts

logger = logging.getLogger("harbor.store")

PREFIX = "harbor:{mod}:"
# On a cluster, how long a raised flag, a sanction or a revocation waits for a replica to
# confirm it (see `_run_replicated`): longer than replication takes on a healthy network, short
# enough that a cluster without replicas delays a flag only this much.
REPLICA_ACK_TIMEOUT_MS = 250
_SCORE_SPAN = 10**13
_PRUNE_BATCH = 500

# Shared by every script: ARGV[1] is always the key prefix.
_PRELUDE = """
local prefix = ARGV[1]
local function fkey(id) return prefix .. 'flag:' .. id end
local function fields(id) return redis.call('HGETALL', fkey(id)) end
"""

# ARGV[7..11]: a resolved flag a report may reopen, read beforehand (`_reopen_args`): its id, its
# live score, its next due time (plain, escalated) and its backup time (0: none). Scores and times
# are Python's to compute; a score depends only on the immutable draft, so a stale read is caught
# by comparing the id.
_RAISE = """
local flagkey, live, due, new_flag, resolved = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local backup = KEYS[6]
local id, is_report, created_ms, score, due_ms = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local reopen_id, reopen_score, reopen_due, reopen_due_escalated = ARGV[7], ARGV[8], ARGV[9],
  ARGV[10]
local reopen_backup = ARGV[11]
local existing = redis.call('GET', flagkey)
if existing and redis.call('EXISTS', fkey(existing)) == 1 then
  if is_report ~= '1' then return {'existing', fields(existing)} end
  local flag = fkey(existing)
  local state, escalated = unpack(redis.call('HMGET', flag, 'state', 'escalated'))
  if state == 'resolved' and existing ~= reopen_id then return {'retry'} end
  redis.call('HINCRBY', flag, 'reports', 1)
  if tonumber(redis.call('HGET', flag, 'updated_ms')) < tonumber(created_ms) then
    redis.call('HSET', flag, 'updated_ms', created_ms)
  end
  if state ~= 'resolved' then return {'reported', fields(existing)} end
  local when = reopen_due
  if escalated == '1' then when = reopen_due_escalated end
  redis.call('HSET', flag, 'state', 'open', 'owner', '', 'lease_until_ms', '0', 'outcome', '',
    'resolved_ms', '0', 'due_ms', when, 'reopened_ms', created_ms, 'claimed_ms', '0',
    'first_words_ms', '0', 'backup_ms', '0', 'backup_due_ms', reopen_backup)
  redis.call('ZREM', resolved, existing)
  redis.call('ZADD', live, reopen_score, existing)
  redis.call('ZADD', due, when, existing)
  if reopen_backup ~= '0' then redis.call('ZADD', backup, reopen_backup, existing) end
  return {'reopened', fields(existing)}
end
if redis.call('EXISTS', new_flag) == 1 then return {'retry'} end
for i = 12, #ARGV, 2 do redis.call('HSET', new_flag, ARGV[i], ARGV[i + 1]) end
redis.call('SET', flagkey, id)
redis.call('ZADD', live, score, id)
redis.call('ZADD', due, due_ms, id)
local backup_due = redis.call('HGET', new_flag, 'backup_due_ms')
if backup_due and backup_due ~= '0' then redis.call('ZADD', backup, backup_due, id) end
return {'created', fields(id)}
"""

_CLAIM = """
local flag, due, leases, backup = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local moderator, now_ms, until_ms = ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', flag) == 0 then return {'not_found'} end
local state, owner, claimed = unpack(redis.call('HMGET', flag, 'state', 'owner', 'claimed_ms'))
if state == 'resolved' or (state == 'claimed' and owner ~= moderator) then
  return {'conflict', owner, state}
end
local id = redis.call('HGET', flag, 'id')
redis.call('HSET', flag, 'state', 'claimed', 'owner', moderator, 'lease_until_ms', until_ms,
  'updated_ms', now_ms)
if not claimed or claimed == '0' or claimed == '' then
  redis.call('HSET', flag, 'claimed_ms', now_ms)
end
redis.call('ZREM', backup, id)
redis.call('ZREM', due, id)
redis.call('ZADD', leases, until_ms, id)
return {'ok', fields(id)}
"""

_RELEASE = """
local flag, due, leases = KEYS[1], KEYS[2], KEYS[3]
local moderator, now_ms = ARGV[2], ARGV[3]
if redis.call('EXISTS', flag) == 0 then return {'not_found'} end
local state, owner, due_ms = unpack(redis.call('HMGET', flag, 'state', 'owner', 'due_ms'))
if state == 'resolved' then return {'already_resolved'} end
if state ~= 'claimed' or owner ~= moderator then return {'not_owner'} end
local id = redis.call('HGET', flag, 'id')
redis.call('HSET', flag, 'state', 'open', 'owner', '', 'lease_until_ms', '0', 'updated_ms', now_ms)
redis.call('ZREM', leases, id)
redis.call('ZADD', due, due_ms, id)
return {'ok', fields(id)}
"""

_RESOLVE = """
local flag, live, due, leases, resolved = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local backup = KEYS[6]
local moderator, outcome, note, now_ms = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', flag) == 0 then return {'not_found'} end
local state, owner = unpack(redis.call('HMGET', flag, 'state', 'owner'))
if state == 'resolved' then return {'already_resolved'} end
if state == 'claimed' and owner ~= moderator then return {'conflict', owner, state} end
local id = redis.call('HGET', flag, 'id')
redis.call('HSET', flag, 'state', 'resolved', 'owner', moderator, 'lease_until_ms', '0',
  'outcome', outcome, 'note', note, 'resolved_ms', now_ms, 'updated_ms', now_ms)
redis.call('ZREM', live, id)
redis.call('ZREM', due, id)
redis.call('ZREM', leases, id)
redis.call('ZREM', backup, id)
redis.call('ZADD', resolved, now_ms, id)
return {'ok', fields(id)}
"""

_ESCALATE = """
local flag, due = KEYS[1], KEYS[2]
local note, now_ms = ARGV[2], ARGV[3]
if redis.call('EXISTS', flag) == 0 then return {'not_found'} end
local state = redis.call('HGET', flag, 'state')
if state == 'resolved' then return {'already_resolved'} end
local id = redis.call('HGET', flag, 'id')
redis.call('HSET', flag, 'escalated', '1', 'due_ms', now_ms, 'updated_ms', now_ms)
if note ~= '' then redis.call('HSET', flag, 'note', note) end
if state == 'open' then redis.call('ZADD', due, now_ms, id) end
return {'ok', fields(id)}
"""

_MARK_RELEASED = """
local flag, message_id, now_ms = KEYS[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', flag) == 0 then return {'not_found'} end
redis.call('HSET', flag, 'released', '1', 'released_id', message_id, 'hidden', '0',
  'updated_ms', now_ms)
return {'ok', fields(redis.call('HGET', flag, 'id'))}
"""

# Sets one case field (ARGV[2], a name Python chose) to ARGV[3], in any state.
_MARK_CASE = """
local flag, name, value, now_ms = KEYS[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', flag) == 0 then return {'not_found'} end
redis.call('HSET', flag, name, value)
if tonumber(redis.call('HGET', flag, 'updated_ms')) < tonumber(now_ms) then
  redis.call('HSET', flag, 'updated_ms', now_ms)
end
return {'ok', fields(redis.call('HGET', flag, 'id'))}
"""

_MARK_HIDDEN = """
local flag, now_ms = KEYS[1], ARGV[2]
if redis.call('EXISTS', flag) == 0 then return {'not_found'} end
redis.call('HSET', flag, 'hidden', '1', 'updated_ms', now_ms)
return {'ok', fields(redis.call('HGET', flag, 'id'))}
"""

_RENEW = """
local leases = KEYS[1]
local moderator, until_ms = ARGV[2], ARGV[3]
local renewed = 0
for _, id in ipairs(redis.call('ZRANGE', leases, 0, -1)) do
  local state, owner, current = unpack(redis.call('HMGET', fkey(id), 'state', 'owner',
    'lease_until_ms'))
  if state == 'claimed' and owner == moderator then
    renewed = renewed + 1
    if tonumber(current) < tonumber(until_ms) then
      redis.call('HSET', fkey(id), 'lease_until_ms', until_ms)
      redis.call('ZADD', leases, until_ms, id)
    end
  end
end
return renewed
"""

_LAPSE = """
local leases, due = KEYS[1], KEYS[2]
local now_ms = ARGV[2]
local lapsed = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now_ms)) do
  redis.call('ZREM', leases, id)
  if redis.call('HGET', fkey(id), 'state') == 'claimed' then
    redis.call('HSET', fkey(id), 'state', 'open', 'owner', '', 'lease_until_ms', '0',
      'updated_ms', now_ms)
    redis.call('ZADD', due, redis.call('HGET', fkey(id), 'due_ms'), id)
    table.insert(lapsed, fields(id))
  end
end
return lapsed
"""

# ARGV[3..]: the next due time per severity (in SEVERITY_ORDER), then for escalated flags.
_TAKE_OVERDUE = """
local due = KEYS[1]
local now_ms = ARGV[2]
local next_due = {}
local severities = {'imminent', 'high', 'concern', 'watch'}
for i, severity in ipairs(severities) do next_due[severity] = ARGV[2 + i] end
local escalated_due, fallback_due = ARGV[3 + #severities], ARGV[2 + #severities]
local taken = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', due, '-inf', now_ms)) do
  local state, severity, escalated = unpack(redis.call('HMGET', fkey(id), 'state', 'severity',
    'escalated'))
  if state == 'open' then
    local when = next_due[severity] or fallback_due
    if escalated == '1' then when = escalated_due end
    redis.call('HSET', fkey(id), 'due_ms', when)
    redis.call('ZADD', due, when, id)
    table.insert(taken, fields(id))
  else
    redis.call('ZREM', due, id)
  end
end
return taken
"""

# Every flag whose backup time has come leaves the index; those still open and never claimed are
# marked called (ARGV[2]) and handed to this caller alone.
_TAKE_UNANSWERED = """
local backup = KEYS[1]
local now_ms = ARGV[2]
local taken = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', backup, '-inf', now_ms)) do
  redis.call('ZREM', backup, id)
  local state, claimed, called = unpack(redis.call('HMGET', fkey(id), 'state', 'claimed_ms',
    'backup_ms'))
  if state == 'open' and (not claimed or claimed == '0') and (not called or called == '0') then
    redis.call('HSET', fkey(id), 'backup_ms', now_ms)
    table.insert(taken, fields(id))
  end
end
return taken
"""

_MARK_FIRST_WORDS = """
local flag, now_ms = KEYS[1], ARGV[2]
if redis.call('EXISTS', flag) == 0 then return false end
local state, said, updated = unpack(redis.call('HMGET', flag, 'state', 'first_words_ms',
  'updated_ms'))
if state == 'resolved' or (said and said ~= '0' and said ~= '') then return false end
redis.call('HSET', flag, 'first_words_ms', now_ms)
if tonumber(updated) < tonumber(now_ms) then redis.call('HSET', flag, 'updated_ms', now_ms) end
return fields(redis.call('HGET', flag, 'id'))
"""

_NEXT_OPEN = """
local live = KEYS[1]
local start = 0
while true do
  local ids = redis.call('ZRANGE', live, start, start + 63)
  if #ids == 0 then return false end
  for _, id in ipairs(ids) do
    if redis.call('HGET', fkey(id), 'state') == 'open' then return fields(id) end
  end
  start = start + 64
end
"""

_LIST = """
local live, resolved = KEYS[1], KEYS[2]
local include_resolved, limit = ARGV[2], tonumber(ARGV[3])
local out = {}
for _, id in ipairs(redis.call('ZRANGE', live, 0, limit - 1)) do
  table.insert(out, fields(id))
end
if include_resolved == '1' and #out < limit then
  for _, id in ipairs(redis.call('ZREVRANGE', resolved, 0, limit - #out - 1)) do
    table.insert(out, fields(id))
  end
end
return out
"""

# Removes at most ARGV[3] flags per call (the caller loops), so no call blocks Redis for long.
_PRUNE = """
local resolved, audit = KEYS[1], KEYS[2]
local cutoff, batch = ARGV[2], ARGV[3]
local removed = 0
local ids = redis.call('ZRANGEBYSCORE', resolved, '-inf', '(' .. cutoff, 'LIMIT', 0, batch)
for _, id in ipairs(ids) do
  redis.call('ZREM', resolved, id)
  local state, key = unpack(redis.call('HMGET', fkey(id), 'state', 'key'))
  if state == 'resolved' then
    if key and redis.call('GET', prefix .. 'flagkey:' .. key) == id then
      redis.call('DEL', prefix .. 'flagkey:' .. key)
    end
    redis.call('DEL', fkey(id))
    redis.call('DEL', prefix .. 'notes:' .. id)
    removed = removed + 1
  end
end
local entries = 0
if #ids < tonumber(batch) then
  entries = redis.call('ZREMRANGEBYSCORE', audit, '-inf', '(' .. cutoff)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. cutoff)
end
return {#ids, removed, entries}
"""

_AUDIT = """
local audit, seq_key = KEYS[1], KEYS[2]
local seq = redis.call('INCR', seq_key)
redis.call('ZADD', audit, ARGV[2], string.format('%016d', seq) .. ':' .. ARGV[3])
return seq
"""

# The key expires with its longest-lasting sanction: only the sanction that ends last sets it.
_SANCTION = """
local key, until_ms, member = KEYS[1], ARGV[2], ARGV[3]
redis.call('ZADD', key, until_ms, member)
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if tonumber(last[2]) <= tonumber(until_ms) then redis.call('PEXPIREAT', key, until_ms) end
return 1
"""

# A network hold: the sanction as above, and its source noted against the ban that placed it (a
# later ban of the same identity holding the same source keeps the later end: ZADD GT).
_HOLD = """
local key, holds, until_ms, member, source = KEYS[1], KEYS[2], ARGV[2], ARGV[3], ARGV[4]
local function add(zset, score, value)
  redis.call('ZADD', zset, 'GT', score, value)
  local last = redis.call('ZRANGE', zset, -1, -1, 'WITHSCORES')
  if tonumber(last[2]) <= tonumber(score) then redis.call('PEXPIREAT', zset, score) end
end
add(key, until_ms, member)
add(holds, until_ms, source)
return 1
"""

# A ban lifted or shortened: KEYS[1] its holds, KEYS[2..] the holds' sanction sets; ARGV from 3
# in threes per set: the source, the hold as stored, the hold as it now ends. A hold no longer
# there (ended on its own, or moved already) is left alone.
_END_HOLDS = """
local holds, new_until = KEYS[1], ARGV[2]
local moved = 0
for i = 2, #KEYS do
  local at = 3 + (i - 2) * 3
  local source, old, new = ARGV[at], ARGV[at + 1], ARGV[at + 2]
  if redis.call('ZREM', KEYS[i], old) == 1 then
    redis.call('ZADD', KEYS[i], new_until, new)
    redis.call('ZADD', holds, new_until, source)
    moved = moved + 1
  end
end
return moved
"""

# A sanction's end moved (an appeal decided): the members ending at until_ms of that kind are
# replaced by the one given, its score the new end. The key's expiry is left: it can only be later.
_END_SANCTION = """
local key, until_ms, marker, member, new_until = KEYS[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local changed = 0
for _, old in ipairs(redis.call('ZRANGEBYSCORE', key, until_ms, until_ms)) do
  if string.find(old, marker, 1, true) then
    redis.call('ZREM', key, old)
    changed = changed + 1
  end
end
if changed > 0 then redis.call('ZADD', key, new_until, member) end
return changed
"""

# A revocation is never narrowed or shortened: the later of each time is kept.
_REVOKE = """
local key, before_ms, until_ms = KEYS[1], ARGV[2], ARGV[3]
local stored = redis.call('GET', key)
if stored then
  local b, u = string.match(stored, '^(%d+) (%d+)$')
  if b and tonumber(b) > tonumber(before_ms) then before_ms = b end
  if u and tonumber(u) > tonumber(until_ms) then until_ms = u end
end
redis.call('SET', key, before_ms .. ' ' .. until_ms, 'PXAT', until_ms)
return 1
"""

_CREATE_SESSION = """
local session, moderators = KEYS[1], KEYS[2]
local name, value, expires_ms = ARGV[2], ARGV[3], ARGV[4]
if redis.call('HEXISTS', moderators, name) == 0 then return 0 end
redis.call('SET', session, value, 'PXAT', expires_ms)
return 1
"""

# Roles live beside the accounts (KEYS[1] accounts, KEYS[2] roles): set only on an account that
# exists, read with it, removed with it.
_SET_ROLE = """
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

_ROLE_OF = """
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return false end
return {1, redis.call('HGET', KEYS[2], ARGV[2]) or ''}
"""

_REMOVE_MODERATOR = """
redis.call('HDEL', KEYS[2], ARGV[2])
return redis.call('HDEL', KEYS[1], ARGV[2])
"""


# A session and the password hash of its moderator, in one round trip (checked every second for
# each open moderator socket).
_SESSION = """
local stored = redis.call('GET', KEYS[1])
if not stored then return false end
local name = string.match(stored, '^%d+ %x+ (.*)$')
if not name then return false end
return {stored, redis.call('HGET', KEYS[2], name) or ''}
"""


_SET_DRAFT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'draft', ARGV[2])
return 1
"""


def _fingerprint(password_hash: str) -> str:
    """Names a password without revealing anything about it (it is already a salted hash)."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _key(suffix: str) -> str:
    return PREFIX + suffix


def _flag_key(flag_id: str) -> str:
    return _key(f"flag:{flag_id}")


_LIVE = _key("flags:live")
_RESOLVED = _key("flags:resolved")
_DUE = _key("due")
_LEASES = _key("leases")
_BACKUP = _key("backup")
_MODERATORS = _key("moderators")
_ROLES = _key("roles")
_ROTA = _key("rota")
_AUDIT_KEY = _key("audit")
_AUDIT_SEQ = _key("audit:seq")
_NOTES_SEQ = _key("notes:seq")
# Resolved flags read per round trip while searching.
_SEARCH_BATCH = 200


def _notes_key(subject: str) -> str:
    return _key(f"notes:{subject}")


def urgency_score(draft: FlagDraft) -> int:
    """The live zset score: severity rank, then age, exact in a double."""
    if not 0 <= draft.created_ms < _SCORE_SPAN:
        raise ValueError(f"created_ms {draft.created_ms} is outside [0, 10**13)")
    return severity_rank(draft.severity) * _SCORE_SPAN + draft.created_ms


class RedisModerationStore:
    """`casework.flags.ModerationStore` over Redis, for many workers; see the module docstring.

    `client` is usually the broker's shared command pool, so `aclose` leaves it open unless
    `owns_client` says this store is its only user.
    """

    def __init__(
        self,
        client: aioredis.Redis | RedisCluster,
        *,
        owns_client: bool = False,
        targets: ResponseTargets = DEFAULT_TARGETS,
        replica_ack_timeout_ms: int = REPLICA_ACK_TIMEOUT_MS,
    ) -> None:
        self._redis = client
        self._targets = targets
        self._replica_ack_timeout_ms = replica_ack_timeout_ms
        self._owns_client = owns_client
        self._lookups = TurnBatch(self._sanctions_of)
        self._revocation_lookups = TurnBatch(self._revocations_of)
        register = client.register_script
        self._raise = register(_PRELUDE + _RAISE)
        self._claim = register(_PRELUDE + _CLAIM)
        self._release = register(_PRELUDE + _RELEASE)
        self._resolve = register(_PRELUDE + _RESOLVE)
        self._escalate = register(_PRELUDE + _ESCALATE)
        self._mark_released = register(_PRELUDE + _MARK_RELEASED)
        self._mark_hidden = register(_PRELUDE + _MARK_HIDDEN)
        self._mark_case = register(_PRELUDE + _MARK_CASE)
        self._renew = register(_PRELUDE + _RENEW)
        self._lapse = register(_PRELUDE + _LAPSE)
        self._take_overdue = register(_PRELUDE + _TAKE_OVERDUE)
        self._take_unanswered = register(_PRELUDE + _TAKE_UNANSWERED)
        self._mark_first_words = register(_PRELUDE + _MARK_FIRST_WORDS)
        self._next_open = register(_PRELUDE + _NEXT_OPEN)
        self._list = register(_PRELUDE + _LIST)
        self._prune = register(_PRELUDE + _PRUNE)
        self._audit = register(_PRELUDE + _AUDIT)
        self._sanction = register(_PRELUDE + _SANCTION)
        self._revoke = register(_PRELUDE + _REVOKE)
        self._end_sanction = register(_PRELUDE + _END_SANCTION)
        self._hold = register(_PRELUDE + _HOLD)
        self._end_holds = register(_PRELUDE + _END_HOLDS)
        self._lift_revocation = register(_PRELUDE + "redis.call('DEL', KEYS[1]) return 1")
        self._create_session = register(_PRELUDE + _CREATE_SESSION)
        self._session = register(_PRELUDE + _SESSION)
        self._set_draft = register(_PRELUDE + _SET_DRAFT)
        self._set_role = register(_PRELUDE + _SET_ROLE)
        self._role_of = register(_PRELUDE + _ROLE_OF)
        self._remove_moderator = register(_PRELUDE + _REMOVE_MODERATOR)

    async def _run(self, script: Any, keys: Sequence[str], *args: str | int) -> Any:
        return await with_scripts(
            self._redis, [script.script], lambda: script(keys=list(keys), args=[PREFIX, *args])
        )

    async def _run_replicated(self, script: Any, keys: Sequence[str], *args: str | int) -> Any:
        """`_run`, and on a cluster also WAIT until a replica has the write, on the same
        connection (WAIT counts only that connection's writes): a primary killed right after
        it answered then cannot take a raised flag or a ban with it, since the replica that
        takes over has it. Redis replication is otherwise asynchronous. One Redis has no
        replica to wait for (run it with an append-only file). A replica slower than
        the timeout (HARBOR_REPLICA_ACK_TIMEOUT_MS, shared with the broker; 0 waits for none)
        is logged, not an error: the write itself succeeded."""
        redis = self._redis
        if not isinstance(redis, RedisCluster) or self._replica_ack_timeout_ms <= 0:
            return await self._run(script, keys, *args)
        await redis.initialize()  # at once when it already knows the slots
        node = redis.get_node_from_key(keys[0])
        reply: Any = None
        for attempt in range(2):
            async with redis.pipeline(transaction=False) as pipe:
                pipe.evalsha(script.sha, len(keys), *keys, PREFIX, *args)
                pipe.execute_command("WAIT", 1, self._replica_ack_timeout_ms, target_nodes=node)
                reply, acked = await pipe.execute(raise_on_error=False)
            if isinstance(reply, NoScriptError) and not attempt:
                await load_everywhere(redis, script.script)  # a failover or restart lost it
                continue
            break
        if isinstance(reply, Exception):
            raise reply
        if isinstance(acked, Exception) or not int(acked):
            logger.warning("a moderation write is on its primary only: no replica confirmed it")
        return reply

    async def _flag_script(
        self, script: Any, flag_id: str, keys: Sequence[str], *args: str | int
    ) -> Flag:
        """Run a script that answers {'ok', fields} or an error status; raise the error."""
        reply = await self._run(script, [_flag_key(flag_id), *keys], *args)
        status = _text(reply[0])
        if status == "ok":
            return _flag(reply[1])
        if status == "conflict":
            owner = _text(reply[1]) if reply[1] else ""
            raise ClaimConflict(owner or None, FlagState(_text(reply[2])))
        raise _flag_error(status, flag_id)

    # Flags

    async def raise_flag(self, draft: FlagDraft) -> tuple[Flag, bool]:
        flag, raised = await self.raise_or_fold(draft)
        return flag, raised is Raised.CREATED

    async def raise_or_fold(self, draft: FlagDraft) -> tuple[Flag, Raised]:
        score = urgency_score(draft)
        is_report = draft.source == "report"
        while True:
            reopen = await self._reopen_args(draft) if is_report else ("", 0, 0, 0, 0)
            flag = new_flag(secrets.token_hex(8), draft, self._targets)
            fields = flag_to_fields(flag) | {"key": draft.key, "severity": draft.severity}
            pairs = [item for pair in fields.items() for item in pair]
            reply = await self._run_replicated(
                self._raise,
                [_key(f"flagkey:{draft.key}"), _LIVE, _DUE, _flag_key(flag.id), _RESOLVED, _BACKUP],
                flag.id,
                int(is_report),
                draft.created_ms,
                score,
                flag.due_ms,
                *reopen,
                *pairs,
            )
            status = _text(reply[0])
            # "retry": a random id collided with an existing flag, or the key's flag was resolved
            # after `_reopen_args` read it
            if status != "retry":
                return _flag(reply[1]), Raised(status)

    async def _reopen_args(self, report: FlagDraft) -> tuple[str, int, int, int, int]:
        """What the raise script needs to reopen the resolved flag of the report's key, if any:
        its id, live score, due time from the report's time (not escalated, escalated) and
        backup time."""
        flag_id = await self._redis.get(_key(f"flagkey:{report.key}"))
        flag = None if flag_id is None else await self.get_flag(_text(flag_id))
        if flag is None or flag.state is not FlagState.RESOLVED:
            return ("", 0, 0, 0, 0)
        severity = flag.draft.severity
        targets = self._targets
        return (
            flag.id,
            urgency_score(flag.draft),
            report.created_ms + targets.realert_after_ms(severity, escalated=False),
            report.created_ms + targets.realert_after_ms(severity, escalated=True),
            targets.backup_due_ms(severity, report.created_ms),
        )

    async def get_flag(self, flag_id: str) -> Flag | None:
        fields = await self._redis.hgetall(_flag_key(flag_id))
        return _flag(fields) if fields else None

    async def flag_by_key(self, key: str) -> Flag | None:
        flag_id = await self._redis.get(_key(f"flagkey:{key}"))
        return None if flag_id is None else await self.get_flag(_text(flag_id))

    async def list_flags(self, *, include_resolved: bool = False, limit: int = 200) -> list[Flag]:
        """Unresolved flags most urgent first; then, if asked and room is left under `limit`,
        resolved ones most recently resolved first."""
        if limit <= 0:
            return []
        replies = await self._run(self._list, [_LIVE, _RESOLVED], int(include_resolved), limit)
        return [_flag(reply) for reply in replies if reply]

    async def next_open(self) -> Flag | None:
        reply = await self._run(self._next_open, [_LIVE])
        return _flag(reply) if reply else None

    async def claim(self, flag_id: str, moderator: str, now_ms: int, lease_ms: int) -> Flag:
        return await self._flag_script(
            self._claim, flag_id, [_DUE, _LEASES, _BACKUP], moderator, now_ms, now_ms + lease_ms
        )

    async def release(self, flag_id: str, moderator: str, now_ms: int) -> Flag:
        return await self._flag_script(self._release, flag_id, [_DUE, _LEASES], moderator, now_ms)

    async def resolve(
        self, flag_id: str, moderator: str, outcome: Outcome, note: str, now_ms: int
    ) -> Flag:
        return await self._flag_script(
            self._resolve,
            flag_id,
            [_LIVE, _DUE, _LEASES, _RESOLVED, _BACKUP],
            moderator,
            str(Outcome(outcome)),
            note,
            now_ms,
        )

    async def escalate(self, flag_id: str, moderator: str, note: str, now_ms: int) -> Flag:
        """Any moderator may escalate (it asks for more eyes, it takes nothing from the owner).
        A non-empty note replaces the flag's note, so whoever picks it up sees why."""
        return await self._flag_script(self._escalate, flag_id, [_DUE], note, now_ms)

    async def mark_released(self, flag_id: str, message_id: int, now_ms: int) -> Flag:
        return await self._flag_script(self._mark_released, flag_id, [], message_id, now_ms)

    async def mark_hidden(self, flag_id: str, now_ms: int) -> Flag:
        return await self._flag_script(self._mark_hidden, flag_id, [], now_ms)

    async def renew_leases(self, moderator: str, now_ms: int, lease_ms: int) -> int:
        """Every claim of `moderator` now runs to now+lease (never shortened), including one
        whose lease ran out but that `lapse_expired` has not returned yet: its owner is alive."""
        renewed = await self._run(self._renew, [_LEASES], moderator, now_ms + lease_ms)
        return int(renewed)

    async def lapse_expired(self, now_ms: int) -> list[Flag]:
        replies = await self._run(self._lapse, [_LEASES, _DUE], now_ms)
        return sorted((_flag(reply) for reply in replies), key=_order)

    async def take_overdue(self, now_ms: int) -> list[Flag]:
        """Open flags due at or before `now_ms`, each with its due time moved to now plus its
        re-alert period, so the same `now_ms` never hands a flag out twice."""
        targets = self._targets
        next_due = [now_ms + targets.realert_after_ms(s, escalated=False) for s in SEVERITY_ORDER]
        escalated = now_ms + targets.realert_after_ms("imminent", escalated=True)
        replies = await self._run(self._take_overdue, [_DUE], now_ms, *next_due, escalated)
        return sorted((_flag(reply) for reply in replies), key=_order)

    async def take_unanswered(self, now_ms: int) -> list[Flag]:
        replies = await self._run(self._take_unanswered, [_BACKUP], now_ms)
        return sorted((_flag(reply) for reply in replies), key=_order)

    async def mark_first_words(self, flag_id: str, now_ms: int) -> Flag | None:
        reply = await self._run(self._mark_first_words, [_flag_key(flag_id)], now_ms)
        return _flag(reply) if reply else None

    # The case around the person

    async def mark_checkin(self, flag_id: str, room: str, now_ms: int) -> Flag:
        return await self._flag_script(self._mark_case, flag_id, [], "checkin_room", room, now_ms)

    async def mark_followed_up(self, flag_id: str, now_ms: int) -> Flag:
        return await self._flag_script(
            self._mark_case, flag_id, [], "followed_up_ms", now_ms, now_ms
        )

    async def add_note(self, note: CaseNote) -> None:
        """Appended like an audit entry (the same script): a sequence number keeps equal times
        in the order they were written."""
        keys = [_notes_key(note.subject), _NOTES_SEQ]
        await self._run(self._audit, keys, note.at_ms, note_to_json(note))

    async def notes(self, subject: str, limit: int = 100) -> list[CaseNote]:
        if limit <= 0:
            return []
        members = _texts(await self._redis.zrevrange(_notes_key(subject), 0, limit - 1))
        return [note_from_json(subject, member.partition(":")[2]) for member in members]

    async def search_resolved(self, query: CaseQuery, limit: int = 100) -> list[Flag]:
        """Reads the resolved index newest first within the date window, a batch of flags per
        round trip, until `limit` match or `SEARCH_SCAN_LIMIT` were read."""
        upper = "+inf" if query.upper_ms is None else str(query.upper_ms)
        found: list[Flag] = []
        for start in range(0, SEARCH_SCAN_LIMIT, _SEARCH_BATCH):
            members = await self._redis.zrevrangebyscore(
                _RESOLVED, upper, str(query.from_ms), start=start, num=_SEARCH_BATCH
            )
            ids = _texts(members)
            async with self._redis.pipeline(transaction=False) as pipe:
                for flag_id in ids:
                    pipe.hgetall(_flag_key(flag_id))
                replies = await pipe.execute()
            found += [flag for flag in (_flag(r) for r in replies if r) if query.matches(flag)]
            if len(found) >= limit or len(ids) < _SEARCH_BATCH:
                break
        return sorted(found, key=lambda f: (f.resolved_ms, f.id), reverse=True)[: max(0, limit)]

    # Moderators and sessions

    async def add_moderator(self, name: str, password_hash: str) -> None:
        """Sessions carry a fingerprint of the password hash they were made under, so a new
        password ends them all without an index of sessions per name (see `session_owner`)."""
        await self._redis.hset(_MODERATORS, name, password_hash)

    async def remove_moderator(self, name: str) -> bool:
        """Its sessions end with it: `session_owner` finds no password to match."""
        return bool(await self._run(self._remove_moderator, [_MODERATORS, _ROLES], name))

    async def set_shifts(self, moderator: str, shifts: list[Shift]) -> None:
        if shifts:
            await self._redis.hset(_ROTA, moderator, shifts_to_json(shifts))
        else:
            await self._redis.hdel(_ROTA, moderator)

    async def shifts(self) -> list[Shift]:
        stored = await self._redis.hgetall(_ROTA)
        return [
            shift
            for name, text in sorted((_text(n), _text(t)) for n, t in stored.items())
            for shift in shifts_from_json(name, text)
        ]

    async def role_of(self, name: str) -> Role | None:
        reply = await self._run(self._role_of, [_MODERATORS, _ROLES], name)
        if not reply:
            return None
        return DEFAULT_ROLE if not reply[1] else parse_role(_text(reply[1]))

    async def set_role(self, name: str, role: Role) -> bool:
        """One script, so a role is never left behind by an account removed meanwhile."""
        return bool(await self._run(self._set_role, [_MODERATORS, _ROLES], name, str(role)))

    async def password_hash(self, name: str) -> str | None:
        stored = await self._redis.hget(_MODERATORS, name)
        return None if stored is None else _text(stored)

    async def moderator_names(self) -> list[str]:
        names = await self._redis.hkeys(_MODERATORS)
        return sorted(_text(name) for name in names)

    async def create_session(self, token_hash: str, name: str, expires_ms: int) -> None:
        """Raises ValueError for a moderator that does not exist (a caller bug: log in first).
        The key expires at `expires_ms` by Redis's clock; `session_owner` also checks the stored
        expiry against the caller's `now_ms`, so the answer never depends on Redis's clock."""
        password_hash = await self.password_hash(name)
        if password_hash is None:
            raise ValueError(f"no moderator named {name!r}")
        created = await self._run(
            self._create_session,
            [_key(f"session:{token_hash}"), _MODERATORS],
            name,
            f"{expires_ms} {_fingerprint(password_hash)} {name}",
            expires_ms,
        )
        if not created:
            raise ValueError(f"no moderator named {name!r}")

    async def session_owner(self, token_hash: str, now_ms: int) -> str | None:
        """The session's moderator while it is unexpired and that account still has the password
        it was signed in with (a password change or a removal ends it)."""
        reply = await self._run(self._session, [_key(f"session:{token_hash}"), _MODERATORS])
        if not reply:
            return None
        expires, fingerprint, name = _text(reply[0]).split(" ", 2)
        password_hash = _text(reply[1])
        if int(expires) <= now_ms or not password_hash:
            return None
        if not hmac.compare_digest(fingerprint, _fingerprint(password_hash)):
            return None
        return name

    async def end_session(self, token_hash: str) -> None:
        await self._redis.delete(_key(f"session:{token_hash}"))

    async def remember_claim(self, token_hash: str, flag_id: str, until_ms: int) -> None:
        key = _key(f"claims:{token_hash}")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, flag_id)
            pipe.pexpireat(key, until_ms)
            await pipe.execute()

    async def take_session_claims(self, token_hash: str) -> list[str]:
        key = _key(f"claims:{token_hash}")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.smembers(key)
            pipe.delete(key)
            members, _ = await pipe.execute()
        return sorted(_text(member) for member in members)

    async def forget_message(self, room: str, message_id: int) -> int:
        """Reads every live and resolved flag's draft (a delete is rare; flags are bounded by
        retention) and rewrites those that held the message. The draft field changes nowhere
        else, and the write is skipped for a flag pruned meanwhile, so no script can race it."""
        ids: list[str] = []
        for key in (_LIVE, _RESOLVED):
            members = await self._redis.zrange(key, 0, -1)
            ids.extend(_text(member) for member in members if isinstance(member, bytes | str))
        if not ids:
            return 0
        async with self._redis.pipeline(transaction=False) as pipe:
            for flag_id in ids:
                pipe.hget(_flag_key(flag_id), "draft")
            drafts = await pipe.execute()
        changed = 0
        for flag_id, stored in zip(ids, drafts, strict=True):
            if stored is None:
                continue
            draft = draft_from_json(stored)
            if draft.room != room:
                continue
            kept = without_message(draft, message_id)
            if kept is not draft:
                changed += await self._run(
                    self._set_draft, [_flag_key(flag_id)], draft_to_json(kept)
                )
        return changed

    # Audit log

    async def audit(self, entry: AuditEntry) -> None:
        await self._run(self._audit, [_AUDIT_KEY, _AUDIT_SEQ], entry.at_ms, audit_to_json(entry))

    async def audit_log(self, limit: int = 200) -> list[AuditEntry]:
        """Newest first: by `at_ms`, and among equal times the later append first (the member
        starts with a zero-padded sequence number, and equal scores order by member)."""
        if limit <= 0:
            return []
        members = _texts(await self._redis.zrevrange(_AUDIT_KEY, 0, limit - 1))
        return [audit_from_json(member.partition(":")[2]) for member in members]

    # Sanctions

    async def sanction(self, sanction: Sanction) -> None:
        """Adds to the uid's set, which expires (by Redis's clock) when its last sanction ends;
        `active_sanctions` filters by the caller's `now_ms`, so answers never depend on that.
        A network hold is also added to the holds of the ban it was placed for."""
        if sanction.held_for:
            await self._run_replicated(
                self._hold,
                [_key(f"sanction:{sanction.uid}"), _key(f"holds:{sanction.held_for}")],
                sanction.until_ms,
                sanction_to_json(sanction),
                sanction.uid,
            )
            return
        await self._run_replicated(
            self._sanction,
            [_key(f"sanction:{sanction.uid}")],
            sanction.until_ms,
            sanction_to_json(sanction),
        )

    async def active_sanctions(self, uid: str, now_ms: int) -> list[Sanction]:
        """Unexpired sanctions of `uid`, the longest-lasting first.

        Every returning client's hello asks this, so after a worker restart thousands ask at
        once: lookups of the same event-loop turn share one pipelined round trip."""
        try:
            return await self._lookups((uid, now_ms))
        except BatchFailed as exc:
            raise RedisError("sanctions lookup failed") from exc.__cause__

    async def _sanctions_of(self, lookups: list[tuple[str, int]]) -> list[list[Sanction]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for uid, now_ms in lookups:
                pipe.zrevrangebyscore(_key(f"sanction:{uid}"), "+inf", f"({now_ms}")
            replies = await pipe.execute()
        return [[sanction_from_json(member) for member in _texts(reply)] for reply in replies]

    async def end_sanction(self, sanction: Sanction, until_ms: int) -> bool:
        changed = await self._run_replicated(
            self._end_sanction,
            [_key(f"sanction:{sanction.uid}")],
            sanction.until_ms,
            f'"kind":"{sanction.kind}"',  # as flag_codec writes it (compact JSON)
            sanction_to_json(replace(sanction, until_ms=until_ms)),
            until_ms,
        )
        return int(changed) > 0

    async def end_holds(self, uid: str, placed_until_ms: int, until_ms: int) -> int:
        """The ban's holds are read first (the sources from its holds set, then each source's
        holds ending with the ban, told apart by `held_for`), then moved in one script that
        moves only those still stored as read."""
        if until_ms >= placed_until_ms:
            return 0
        holds = _key(f"holds:{uid}")
        sources = _texts(await self._redis.zrangebyscore(holds, placed_until_ms, placed_until_ms))
        if not sources:
            return 0
        async with self._redis.pipeline(transaction=False) as pipe:
            for source in sources:
                pipe.zrangebyscore(_key(f"sanction:{source}"), placed_until_ms, placed_until_ms)
            replies = await pipe.execute()
        keys, args = [holds], []
        for source, reply in zip(sources, replies, strict=True):
            for member in _texts(reply):
                hold = sanction_from_json(member)
                if hold.held_for == uid:
                    keys.append(_key(f"sanction:{source}"))
                    moved = sanction_to_json(replace(hold, until_ms=until_ms))
                    args += [source, member, moved]
        if not args:
            return 0
        return int(await self._run_replicated(self._end_holds, keys, until_ms, *args))

    async def first_to_mark(self, key: str, now_ms: int, until_ms: int) -> bool:
        """Expires by Redis's clock, at `until_ms`; `now_ms` is for the SQLite store's sweep."""
        if until_ms <= now_ms:
            return False
        return bool(await self._redis.set(_key(f"mark:{key}"), 1, nx=True, pxat=until_ms))

    # Token revocations

    async def revoke_tokens(self, revocation: Revocation) -> None:
        await self._run_replicated(
            self._revoke,
            [_key(f"revoked:{revocation.uid}")],
            revocation.before_ms,
            revocation.until_ms,
        )

    async def tokens_revoked_before(self, uid: str, now_ms: int) -> int:
        """Asked by every returning hello, like `active_sanctions`, so batched the same way."""
        try:
            return await self._revocation_lookups((uid, now_ms))
        except BatchFailed as exc:
            raise RedisError("revocation lookup failed") from exc.__cause__

    async def _revocations_of(self, lookups: list[tuple[str, int]]) -> list[int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for uid, _ in lookups:
                pipe.get(_key(f"revoked:{uid}"))
            replies = await pipe.execute()
        answers = []
        for (_, now_ms), reply in zip(lookups, replies, strict=True):
            before, _, until = _text(reply).partition(" ") if reply else ("0", "", "0")
            answers.append(int(before) if int(until) > now_ms else 0)
        return answers

    async def lift_revocation(self, uid: str) -> None:
        await self._run_replicated(self._lift_revocation, [_key(f"revoked:{uid}")])

    # Housekeeping

    async def prune(self, now_ms: int, retention_ms: int) -> int:
        """Removes resolved flags resolved, and audit entries written, before now - retention, in
        batches. Only ids in the resolved zset whose hash says `resolved` are deleted: no open or
        claimed flag, however old, is ever removed."""
        cutoff = now_ms - retention_ms
        total = 0
        while True:
            seen, removed, entries = await self._run(
                self._prune, [_RESOLVED, _AUDIT_KEY, _notes_key(HANDOVER)], cutoff, _PRUNE_BATCH
            )
            total += int(removed) + int(entries)
            if int(seen) < _PRUNE_BATCH:
                return total
            await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._redis.aclose()


def _order(flag: Flag) -> tuple[int, int, str]:
    return (*flag.urgency, flag.id)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _texts(values: Any) -> list[str]:
    """Plain members of a range reply (redis-py types them loosely: bytes, str or pairs)."""
    return [_text(value) for value in values]


def _flag(reply: Any) -> Flag:
    """A flag from HGETALL: a dict (redis-py's reply to the command) or a flat list (a script's)."""
    if isinstance(reply, dict):
        return flag_from_fields({_text(k): v for k, v in reply.items()})
    pairs = list(reply)
    return flag_from_fields({_text(k): v for k, v in zip(pairs[::2], pairs[1::2], strict=True)})


def _flag_error(status: str, flag_id: str) -> FlagError:
    messages = {
        "not_found": f"no flag {flag_id}",
        "not_owner": f"flag {flag_id} is not claimed by you",
        "already_resolved": f"flag {flag_id} is already resolved",
    }
    return FlagError(status, messages.get(status, f"flag {flag_id}: {status}"))
