//! A live session's event log in Redis, so that when its owner dies, the node that takes the
//! meeting over can replay to each client exactly what it missed. One stream per session whose
//! entry ids are the session's sequence numbers, capped, and beside it a hash with the epoch of
//! the owner that last wrote or took the log over, and the last sequence number (`top`). The
//! owner appends each event before it sends it; the append runs as one script that refuses a
//! writer whose epoch is older than the last writer's (as Centrifugo's history streams carry an
//! epoch), and a node taking the meeting over raises the epoch as it reads the log, so an old
//! owner that wakes up can add nothing to the log of a session another node now runs.

use redis::aio::ConnectionLike;
use redis::{Script, Value};

use super::ClusterError;

/// For the writer of epoch `ARGV[1]`: keeps at most `ARGV[2]` entries and both keys for `ARGV[3]`
/// ms, and appends the (sequence number, payload) pairs from `ARGV[6]` on, recording `ARGV[5]`
/// as the room's view after them (empty: not known). With `ARGV[4]` = 1 the log restarts: what
/// it held is dropped first, and the first number need not follow `top`.
/// Answers `{0, 0}` when appended, `{1, epoch}` when the writer is fenced off, `{2, top}` when
/// a number does not follow the one before (nothing is written then).
const APPEND: &str = r"
local epoch = tonumber(ARGV[1])
local meta = redis.call('HMGET', KEYS[2], 'epoch', 'top')
local last_epoch = tonumber(meta[1] or '0')
if epoch < last_epoch then return {1, last_epoch} end
local top = meta[2] and tonumber(meta[2])
if ARGV[4] == '1' then
  redis.call('DEL', KEYS[1])
  top = nil
end
for i = 6, #ARGV, 2 do
  local seq = tonumber(ARGV[i])
  if top and seq ~= top + 1 then return {2, top} end
  top = seq
end
for i = 6, #ARGV, 2 do
  redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], ARGV[i] .. '-0', 'e', ARGV[i + 1])
end
redis.call('HSET', KEYS[2], 'epoch', ARGV[1], 'top', ARGV[#ARGV - 1], 'view', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {0, 0}
";

/// For the node taking the session over under epoch `ARGV[1]` (keeping the keys `ARGV[2]` ms):
/// raises the log's epoch to it, then reads `top`, the room's view and every entry: `{0}` when
/// there is no log, `{1, epoch}` when a newer owner has written, else `{2, top, view, entries}`. Numbers go in and out
/// as decimal strings (Lua would print a large one as `1e+15`).
const TAKE_OVER: &str = r"
local epoch = tonumber(ARGV[1])
local meta = redis.call('HMGET', KEYS[2], 'epoch', 'top', 'view')
local last_epoch = tonumber(meta[1] or '0')
if epoch < last_epoch then return {1, last_epoch} end
redis.call('HSET', KEYS[2], 'epoch', ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
if not meta[2] then return {0} end
return {2, meta[2], meta[3] or '', redis.call('XRANGE', KEYS[1], '-', '+')}
";

/// The largest sequence number a log takes: Redis scripts compute in doubles, exact up to 2^53.
pub(crate) const MAX_SEQ: u64 = 1 << 53;

/// What became of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AppendOutcome {
    /// The events are in the log.
    Appended,
    /// A writer of a newer epoch has written, or a node has taken the log over: this one no
    /// longer owns the session.
    Fenced {
        /// The newer owner's epoch.
        epoch: i64,
    },
    /// A sequence number does not follow the last one logged; nothing was written.
    OutOfOrder {
        /// The last sequence number logged.
        top: u64,
    },
}

/// What a node taking a session over finds in its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TakenOver {
    /// The log, now fenced against every earlier owner: its last sequence number and the
    /// entries it still holds (older ones were trimmed), oldest first.
    Log {
        /// The last sequence number logged.
        top: u64,
        /// The room's view digest after the last append, if it was known.
        view: Option<u64>,
        /// (sequence number, payload), oldest first.
        entries: Vec<(u64, Vec<u8>)>,
    },
    /// The session has no log (expired, lost in a Redis restart, or never written); it is
    /// fenced all the same.
    NoLog,
    /// A node of a newer epoch has the session: the taker is too late.
    Fenced {
        /// The newer owner's epoch.
        epoch: i64,
    },
}

/// How long a session's log is kept after its last write, and how many entries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogLimits {
    /// Entries kept per session.
    pub(crate) capacity: usize,
    /// How long a log outlives its last append.
    pub(crate) ttl: std::time::Duration,
}

/// The event logs of live sessions, on a connection `C` to Redis.
#[derive(Clone)]
pub(crate) struct EventLog<C> {
    conn: C,
    limits: LogLimits,
    append: Script,
    take_over: Script,
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

fn decimal(v: &Value) -> Option<u64> {
    match v {
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
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

impl<C: ConnectionLike + Send> EventLog<C> {
    /// Logs kept on `conn` within `limits`.
    pub(crate) fn new(conn: C, limits: LogLimits) -> Self {
        Self { conn, limits, append: Script::new(APPEND), take_over: Script::new(TAKE_OVER) }
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.limits.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// Appends `events` (sequence number, payload; consecutive numbers, each at most
    /// [`MAX_SEQ`]) to the log of `session_id` for the owner of `epoch`, with the room's `view`
    /// after them. The first must follow the last one logged, unless the log has none or
    /// `restart` drops what it holds.
    pub(crate) async fn append(
        &mut self,
        session_id: &str,
        epoch: i64,
        restart: bool,
        events: &[(u64, Vec<u8>)],
        view: Option<u64>,
    ) -> Result<AppendOutcome, ClusterError> {
        if let Some((seq, _)) = events.iter().find(|(seq, _)| *seq > MAX_SEQ) {
            return Err(ClusterError::SequenceTooLarge(*seq));
        }
        if events.is_empty() {
            return Ok(AppendOutcome::Appended);
        }
        let [stream, meta] = keys(session_id);
        let mut call = self.append.key(stream);
        call.key(meta).arg(epoch).arg(self.limits.capacity).arg(self.ttl_ms()).arg(if restart { "1" } else { "0" });
        call.arg(view.map(|v| v.to_string()).unwrap_or_default());
        for (seq, payload) in events {
            call.arg(seq.to_string()).arg(payload.as_slice());
        }
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

    /// Takes the log of `session_id` over for the owner of `epoch`: no earlier owner can append
    /// to it any more, and what it holds is read.
    pub(crate) async fn take_over(&mut self, session_id: &str, epoch: i64) -> Result<TakenOver, ClusterError> {
        let [stream, meta] = keys(session_id);
        let mut call = self.take_over.key(stream);
        call.key(meta).arg(epoch).arg(self.ttl_ms());
        let reply: Value = call.invoke_async(&mut self.conn).await?;
        let Value::Array(parts) = &reply else { return Err(unexpected("take over", &reply)) };
        match parts.as_slice() {
            [Value::Int(0)] => Ok(TakenOver::NoLog),
            [Value::Int(1), Value::Int(epoch)] => Ok(TakenOver::Fenced { epoch: *epoch }),
            [Value::Int(2), top, view, Value::Array(entries)] => {
                let top = decimal(top).ok_or_else(|| unexpected("take over", &reply))?;
                let view = decimal(view);
                let entries = entries
                    .iter()
                    .map(entry)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| unexpected("take over", &reply))?;
                Ok(TakenOver::Log { top, view, entries })
            }
            _ => Err(unexpected("take over", &reply)),
        }
    }
}

#[cfg(test)]
mod tests;
