//! One owner per live meeting, fenced. A meeting's room runs on the node that owns it; ownership
//! is a row of `meeting_owners` claimed in a transaction, and its `epoch` is a fencing token:
//! it grows at every change of owner, so a write made under an old epoch ([`hold_fence`]) is
//! refused even if its node, paused or cut off, still believes it owns the meeting. A node is
//! alive while its heartbeat, stamped with the database's clock, is younger than the lease.

use std::time::Duration;

use tokio_postgres::{Client, GenericClient, Transaction};

use super::ClusterError;

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claim {
    /// The claiming node owns the meeting, under this epoch (the same epoch again if it already
    /// owned it).
    Owned(Fence),
    /// Another live node owns it.
    OwnedBy {
        /// The owner.
        node_id: String,
        /// Its epoch.
        epoch: i64,
    },
}

/// What an owner's writes for one meeting are conditional on (cluster mode): the meeting and
/// the epoch under which a node owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The meeting.
    pub meeting_id: String,
    /// The epoch under which the node owns it.
    pub epoch: i64,
}

/// A duration in whole milliseconds, as the lease queries pass it (`$n::bigint * interval '1
/// millisecond'`, judged by the database's clock).
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Records that `node_id` is alive now, by the database's clock.
pub(crate) async fn heartbeat(client: &impl GenericClient, node_id: &str) -> Result<(), ClusterError> {
    client
        .execute(
            "INSERT INTO nodes (node_id, heartbeat_at) VALUES ($1, now())
             ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = now()",
            &[&node_id],
        )
        .await?;
    Ok(())
}

/// Claims `meeting_id` for `node_id`, which must have a committed heartbeat: it gets the meeting
/// if nobody owns it, if it owns it already, or if the owner's heartbeat is older than `lease`.
/// Every claim that is not the meeting's first grows the epoch by one, a claim by the owner
/// itself too: a node claims only to start a room, so its earlier room for the meeting is ending
/// and must not write, or release the meeting, under the new one. Claims racing for one meeting
/// are serialised by its row.
pub(crate) async fn claim(
    client: &mut Client,
    meeting_id: &str,
    node_id: &str,
    lease: Duration,
) -> Result<Claim, ClusterError> {
    let tx = client.transaction().await?;
    let first = tx
        .query_opt(
            "INSERT INTO meeting_owners (meeting_id, node_id, epoch, changed_at) VALUES ($1, $2, 1, now())
             ON CONFLICT (meeting_id) DO NOTHING RETURNING epoch",
            &[&meeting_id, &node_id],
        )
        .await?;
    if let Some(row) = first {
        tx.commit().await?;
        return Ok(Claim::Owned(Fence { meeting_id: meeting_id.to_owned(), epoch: row.get(0) }));
    }
    let row = tx
        .query_one(
            "SELECT o.node_id, o.epoch, coalesce(n.heartbeat_at > now() - $2::bigint * interval '1 millisecond', false)
             FROM meeting_owners o LEFT JOIN nodes n ON n.node_id = o.node_id
             WHERE o.meeting_id = $1 FOR UPDATE OF o",
            &[&meeting_id, &millis(lease)],
        )
        .await?;
    let (owner, epoch, owner_live): (Option<String>, i64, bool) = (row.get(0), row.get(1), row.get(2));
    let claim = match owner {
        Some(owner) if owner != node_id && owner_live => Claim::OwnedBy { node_id: owner, epoch },
        _ => {
            let row = tx
                .query_one(
                    "UPDATE meeting_owners SET node_id = $2, epoch = epoch + 1, changed_at = now()
                     WHERE meeting_id = $1 RETURNING epoch",
                    &[&meeting_id, &node_id],
                )
                .await?;
            Claim::Owned(Fence { meeting_id: meeting_id.to_owned(), epoch: row.get(0) })
        }
    };
    tx.commit().await?;
    Ok(claim)
}

/// Inside a write transaction: whether `fence` still holds. It holds the meeting's row until the
/// transaction ends, so no claim can change the owner between this check and the commit; a write
/// whose fence does not hold must be rolled back.
pub(crate) async fn hold_fence(tx: &Transaction<'_>, fence: &Fence) -> Result<bool, ClusterError> {
    let row =
        tx.query_opt("SELECT epoch FROM meeting_owners WHERE meeting_id = $1 FOR SHARE", &[&fence.meeting_id]).await?;
    Ok(row.is_some_and(|r| r.get::<_, i64>(0) == fence.epoch))
}

/// Gives the meeting up (its session has ended and its room stopped): nobody owns it, and the
/// epoch grows so that the fence of this ownership never holds again. Returns `false`, changing
/// nothing, if the fence no longer held.
pub(crate) async fn release(client: &impl GenericClient, fence: &Fence) -> Result<bool, ClusterError> {
    let released = client
        .execute(
            "UPDATE meeting_owners SET node_id = NULL, epoch = epoch + 1, changed_at = now()
             WHERE meeting_id = $1 AND epoch = $2",
            &[&fence.meeting_id, &fence.epoch],
        )
        .await?;
    Ok(released == 1)
}

#[cfg(test)]
mod tests;
