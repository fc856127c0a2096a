//! The bodies of the webhook events (RealtimeKit's shapes).

use convene_core::proto::Peer;
use convene_core::EndReason;
use serde_json::{json, Value};

use crate::records::Recording;
use crate::room::{Live, Room};

/// The `meeting` object, for the live session if there is one.
pub(crate) fn meeting(room: &Room) -> Value {
    match &room.session {
        Some(live) => meeting_for(room, live, None),
        None => {
            let m = &room.config.meeting;
            json!({"id": m.id, "title": m.title, "roomName": m.id})
        }
    }
}

fn meeting_for(room: &Room, live: &Live, ended_at: Option<&str>) -> Value {
    let m = &room.config.meeting;
    let mut v = json!({
        "id": m.id,
        "sessionId": live.id,
        "title": m.title,
        "roomName": m.id,
        "status": "LIVE",
        "createdAt": live.started_at,
        "startedAt": live.started_at,
        "organizedBy": {"id": room.config.app.id, "name": room.config.app.name},
    });
    if let Some(t) = ended_at {
        v["endedAt"] = json!(t);
    }
    v
}

/// `meeting.started`.
pub(crate) fn meeting_started(room: &Room) -> Value {
    json!({"event": "meeting.started", "meeting": meeting(room)})
}

/// `meeting.ended`, for the session that just ended.
pub(crate) fn meeting_ended(room: &Room, live: &Live, ended_at: &str, reason: EndReason) -> Value {
    let mut meeting = meeting_for(room, live, Some(ended_at));
    meeting["status"] = json!("ENDED");
    json!({"event": "meeting.ended", "meeting": meeting, "reason": reason})
}

/// `meeting.participantJoined`.
pub(crate) fn participant_joined(room: &Room, peer: &Peer, joined_at: &str) -> Value {
    json!({
        "event": "meeting.participantJoined",
        "meeting": meeting(room),
        "participant": participant(peer, Some(joined_at), None),
    })
}

/// `meeting.participantLeft`.
pub(crate) fn participant_left(room: &Room, peer: &Peer, left_at: &str) -> Value {
    json!({
        "event": "meeting.participantLeft",
        "meeting": meeting(room),
        "participant": participant(peer, None, Some(left_at)),
    })
}

fn participant(peer: &Peer, joined_at: Option<&str>, left_at: Option<&str>) -> Value {
    let mut p = json!({
        "peerId": peer.id,
        "userDisplayName": peer.name,
        "customParticipantId": peer.custom_participant_id,
        "clientSpecificId": peer.custom_participant_id,
    });
    if let Some(t) = joined_at {
        p["joinedAt"] = json!(t);
    }
    if let Some(t) = left_at {
        p["leftAt"] = json!(t);
    }
    p
}

/// `recording.statusUpdate`.
pub(crate) fn recording_status(room: &Room, rec: &Recording) -> Value {
    json!({
        "event": "recording.statusUpdate",
        "recording": {
            "id": rec.id,
            "recordingId": rec.id,
            "status": rec.status,
            "downloadUrl": rec.download_url,
            "audioDownloadUrl": null,
            "downloadUrlExpiry": null,
            "startedTime": rec.started_time,
            "stoppedTime": rec.stopped_time,
            "fileSize": rec.file_size.map(|n| n.to_string()),
            "outputFileName": rec.output_file_name,
            "meetingId": rec.meeting_id,
            "recordingDuration": rec.recording_duration,
            "organizationId": room.config.app.id,
            "roomUUID": rec.session_id,
        },
        "meeting": meeting(room),
    })
}
