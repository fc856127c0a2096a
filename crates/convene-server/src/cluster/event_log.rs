//! A live session's event log in Redis, so that when its owner dies, the node that takes the
//! meeting over can replay to each client exactly what it missed. One stream per session whose
//! entry ids are the session's sequence numbers, capped, and beside it a hash with the epoch of
//! the owner that last wrote and the last sequence number (`top`). The owner appends each event
//! before it sends it; the append runs as one script that refuses a writer whose epoch is older
//! than the last writer's (as Centrifugo's history streams carry an epoch), so an old owner that
//! wakes up cannot add to the log of a session another node now runs.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{Script, Value};

use super::ClusterError;

/// Appends `ARGV[3]` as sequence number `ARGV[2]` for the writer of epoch `ARGV[1]`, keeping at
/// most `ARGV[4]` entries and both keys for `ARGV[5]` ms. Answers `{0, top}` when appended,
/// `{1, epoch}` when the writer is fenced off, `{2, top}` when the number does not follow `top`.
const APPEND: &str = r"
local epoch = tonumber(ARGV[1])
local seq = tonumber(ARGV[2])
local meta = redis.call('HMGET', KEYS[2], 'epoch', 'top')
local last_epoch = tonumber(meta[1] or '0')
if epoch < last_epoch then return {1, last_epoch} end
if meta[2] and seq ~= tonumber(meta[2]) + 1 then return {2, tonumber(meta[2])} end
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[4], ARGV[2] .. '-0', 'e', ARGV[3])
redis.call('HSET', KEYS[2], 'epoch', ARGV[1], 'top', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {0, seq}
";

/// Reads `top` and the entries after sequence number `ARGV[1]` (`ARGV[2]` is the one after it,
/// as a stream id wants it) together: `{}` when the session has no log, else `{top, entries}`.
/// Numbers go in and out as decimal strings (Lua would print a large one as `1e+15`).
const SINCE: &str = r"
local top = redis.call('HGET', KEYS[2], 'top')
if not top then return {} end
local after = tonumber(ARGV[1])
if after >= tonumber(top) then return {top, {}} end
return {top, redis.call('XRANGE', KEYS[1], ARGV[2] .. '-0', '+')}
";

/// The largest sequence number a log takes: Redis scripts compute in doubles, exact up to 2^53.
pub(crate) const MAX_SEQ: u64 = 1 << 53;

/// What became of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AppendOutcome {
    /// The event is in the log.
    Appended,
    /// A writer of a newer epoch has written: this one no longer owns the session.
    Fenced {
        /// The newer writer's epoch.
        epoch: i64,
    },
    /// The sequence number does not follow the last one logged; nothing was written.
    OutOfOrder {
        /// The last sequence number logged.
        top: u64,
    },
}

/// What the log can give a client that saw every event up to some sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Every event it missed, in order (none if it missed nothing).
    Events(Vec<(u64, Vec<u8>)>),
    /// The log no longer covers what it missed (trimmed, expired, or never had it): it needs a
    /// snapshot instead.
    Gap,
}

/// The event logs of live sessions.
#[derive(Clone)]
pub(crate) struct EventLog {
    conn: MultiplexedConnection,
    /// Entries kept per session.
    capacity: usize,
    /// How long a session's log outlives its last append.
    ttl: Duration,
    append: Script,
    since: Script,
}

/// Both keys of a session share a hash tag, so that they live on one Redis Cluster node.
fn keys(session_id: &str) -> [String; 2] {
    [format!("convene:{{{session_id}}}:events"), format!("convene:{{{session_id}}}:meta")]
}

fn unexpected(what: &str, reply: &Value) -> ClusterError {
    ClusterError::UnexpectedReply(format!("{what}: {reply:?}"))
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        _ => None,
    }
}

/// One stream entry, `[id, [field, value]]`, as `(sequence number, payload)`.
fn entry(v: &Value) -> Option<(u64, Vec<u8>)> {
    let Value::Array(parts) = v else { return None };
    let [Value::BulkString(id), Value::Array(fields)] = parts.as_slice() else { return None };
    let seq = std::str::from_utf8(id).ok()?.strip_suffix("-0")?.parse().ok()?;
    match fields.as_slice() {
        [Value::BulkString(field), Value::BulkString(payload)] if field == b"e" => Some((seq, payload.clone())),
        _ => None,
    }
}

impl EventLog {
    /// Logs kept on `conn`, `capacity` entries per session for `ttl` after the last append.
    pub(crate) fn new(conn: MultiplexedConnection, capacity: usize, ttl: Duration) -> Self {
        Self { conn, capacity, ttl, append: Script::new(APPEND), since: Script::new(SINCE) }
    }

    /// Appends event `seq` of `session_id` for the owner of `epoch`. `seq` must follow the last
    /// one logged (any number starts a session's log) and be at most [`MAX_SEQ`].
    pub(crate) async fn append(
        &mut self,
        session_id: &str,
        epoch: i64,
        seq: u64,
        payload: &[u8],
    ) -> Result<AppendOutcome, ClusterError> {
        if seq > MAX_SEQ {
            return Err(ClusterError::SequenceTooLarge(seq));
        }
        let [events, meta] = keys(session_id);
        let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let mut call = self.append.key(events);
        call.key(meta).arg(epoch).arg(seq).arg(payload).arg(self.capacity).arg(ttl_ms);
        let reply: Value = call.invoke_async(&mut self.conn).await?;
        let pair = match &reply {
            Value::Array(v) => v.iter().map(int).collect::<Option<Vec<_>>>(),
            _ => None,
        };
        match pair.as_deref() {
            Some([0, _]) => Ok(AppendOutcome::Appended),
            Some([1, epoch]) => Ok(AppendOutcome::Fenced { epoch: *epoch }),
            Some([2, top]) => Ok(AppendOutcome::OutOfOrder { top: u64::try_from(*top).unwrap_or(0) }),
            _ => Err(unexpected("append", &reply)),
        }
    }

    /// What a client that saw every event of `session_id` up to `after` missed.
    pub(crate) async fn since(&mut self, session_id: &str, after: u64) -> Result<Replay, ClusterError> {
        if after > MAX_SEQ {
            return Ok(Replay::Gap);
        }
        let [events, meta] = keys(session_id);
        let mut call = self.since.key(events);
        call.key(meta).arg(after).arg(after.saturating_add(1));
        let reply: Value = call.invoke_async(&mut self.conn).await?;
        let Value::Array(parts) = &reply else { return Err(unexpected("since", &reply)) };
        let (top, entries) = match parts.as_slice() {
            [] => return Ok(Replay::Gap),
            [Value::BulkString(top), Value::Array(entries)] => (top, entries),
            _ => return Err(unexpected("since", &reply)),
        };
        let top: u64 =
            std::str::from_utf8(top).ok().and_then(|t| t.parse().ok()).ok_or_else(|| unexpected("since", &reply))?;
        if after > top {
            return Ok(Replay::Gap);
        }
        let events =
            entries.iter().map(entry).collect::<Option<Vec<_>>>().ok_or_else(|| unexpected("since", &reply))?;
        // Complete only if the entries run from `after + 1` to `top` without a hole.
        let complete = events.len() as u64 == top - after && events.first().is_none_or(|(seq, _)| *seq == after + 1);
        Ok(if complete { Replay::Events(events) } else { Replay::Gap })
    }
}

#[cfg(test)]
mod tests;
