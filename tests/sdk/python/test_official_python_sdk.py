"""Cloudflare's official Python SDK (`cloudflare` on PyPI, pinned in requirements.txt) against a real
convene-server: every RealtimeKit method of the SDK for what Convene implements (apps, presets,
meetings, participants, active session, sessions, recordings, webhooks), each call's answer
validated strictly against the SDK's own response model.

"Strictly" means: `Model.model_validate_json(body, strict=True)` (required fields present, types
and enums right, no coercion), and no field the model does not know anywhere in the body (a field
Convene puts in the wrong place is caught too), except the few listed with the reason in
../convene-extras.json. Each test also checks that the call did what it says (the listing holds
what was made, a filter keeps what it should).

Run by scripts/sdk-tests.sh (which installs the SDK into a venv): `python -m unittest -v` here, with
CONVENE_SERVER pointing at a convene-server binary (default: target/debug/convene-server).
"""

import json
import unittest
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cloudflare
from cloudflare.types import realtime_kit as rk
from pydantic import BaseModel

from convene_server import ConveneServer

# Fields Convene answers that the SDK's models do not declare, with the reason: shared with the
# TypeScript SDK's tests.
SHARED = Path(__file__).resolve().parent.parent
CONVENE_EXTRAS = {
    name: entry["paths"] for name, entry in json.loads((SHARED / "convene-extras.json").read_text())["extras"].items()
}

SERVER: ConveneServer


def setUpModule() -> None:
    global SERVER
    SERVER = ConveneServer()


def tearDownModule() -> None:
    SERVER.stop()


def unknown_fields(value, path: str):
    """The paths of the fields of a parsed answer that its model does not declare."""
    if isinstance(value, BaseModel):
        for name in value.model_extra or {}:
            yield f"{path}.{name}"
        for name in type(value).model_fields:
            yield from unknown_fields(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for item in value:
            yield from unknown_fields(item, f"{path}[*]")
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from unknown_fields(item, f"{path}.{name}")


class SdkTestCase(unittest.TestCase):
    """A client of the SDK on the test server, and the strict check of an answer."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.cf = cloudflare.Cloudflare(api_token=SERVER.token, base_url=SERVER.url + "/client/v4", max_retries=0)
        cls.kit = cls.cf.realtime_kit
        cls.ids = {"account_id": SERVER.account, "app_id": SERVER.app}

    def strict(self, raw_response, model: type[BaseModel], status: int = 200):
        """Checks a `.with_raw_response` answer: its status, its envelope, and its body against
        `model` strictly. Returns the parsed model."""
        body = raw_response.http_response.text
        self.assertEqual(raw_response.http_response.status_code, status, body)
        parsed = model.model_validate_json(body, strict=True)
        allowed = CONVENE_EXTRAS.get(model.__name__, [])
        unknown = [p for p in unknown_fields(parsed, "$") if p not in allowed]
        self.assertEqual(unknown, [], f"fields {model.__name__} does not declare, in {body}")
        self.assertIs(json.loads(body)["success"], True, body)
        return parsed

    def meeting(self, title: str) -> str:
        answer = self.kit.meetings.with_raw_response.create(**self.ids, title=title)
        return self.strict(answer, rk.MeetingCreateResponse, 201).data.id

    def participant(self, meeting_id: str, name: str, preset: str = "group_call_host"):
        answer = self.kit.meetings.with_raw_response.add_participant(
            meeting_id, **self.ids, custom_participant_id=name, preset_name=preset, name=name
        )
        return self.strict(answer, rk.MeetingAddParticipantResponse, 201).data

    def live_meeting(self, title: str):
        """A meeting with a live session: one host joined and staying. Returns (meeting, participant)."""
        meeting_id = self.meeting(title)
        host = self.participant(meeting_id, f"{title}-host")
        SERVER.join(host.token)
        return meeting_id, host


class Apps(SdkTestCase):
    def test_get_lists_the_ready_app(self):
        answer = self.strict(self.kit.apps.with_raw_response.get(account_id=SERVER.account), rk.AppGetResponse)
        self.assertIn(SERVER.app, [app.id for app in answer.data])

    def test_post_creates_an_app_and_answers_it_in_data_app(self):
        answer = self.kit.apps.with_raw_response.post(account_id=SERVER.account, name="sdk app")
        app = self.strict(answer, rk.AppPostResponse).data.app
        self.assertEqual(app.name, "sdk app")
        listed = self.kit.apps.get(account_id=SERVER.account).data
        self.assertIn(app.id, [a.id for a in listed])


# A whole preset, every section Cloudflare's schema has: shared with the TypeScript SDK's tests.
PRESET = json.loads((SHARED / "preset.json").read_text())


class Presets(SdkTestCase):
    def create(self, name: str) -> str:
        answer = self.kit.presets.with_raw_response.create(**self.ids, name=name, **PRESET)
        preset = self.strict(answer, rk.PresetCreateResponse, 201).data
        self.assertEqual(preset.name, name)
        self.assertTrue(preset.permissions.kick_participant)
        return preset.id

    def test_create_get_list_and_delete(self):
        preset_id = self.create("sdk_preset")
        got = self.strict(self.kit.presets.with_raw_response.get_preset_by_id(preset_id, **self.ids),
                          rk.PresetGetPresetByIDResponse)
        self.assertEqual(got.data.id, preset_id)
        listed = self.strict(self.kit.presets.with_raw_response.get(**self.ids), rk.PresetGetResponse)
        self.assertIn(preset_id, [p.id for p in listed.data])
        deleted = self.strict(self.kit.presets.with_raw_response.delete(preset_id, **self.ids), rk.PresetDeleteResponse)
        self.assertEqual(deleted.data.id, preset_id)
        listed = self.kit.presets.get(**self.ids)
        self.assertNotIn(preset_id, [p.id for p in listed.data])

    def test_update_changes_only_what_it_names(self):
        preset_id = self.create("sdk_preset_update")
        answer = self.kit.presets.with_raw_response.update(
            preset_id, **self.ids, name="sdk_preset_renamed", permissions={"kick_participant": False}
        )
        updated = self.strict(answer, rk.PresetUpdateResponse).data
        self.assertEqual(updated.name, "sdk_preset_renamed")
        self.assertFalse(updated.permissions.kick_participant)

    def test_update_of_one_permission_keeps_the_others(self):
        preset_id = self.create("sdk_preset_merge")
        self.kit.presets.update(preset_id, **self.ids, permissions={"kick_participant": False})
        got = self.kit.presets.with_raw_response.get_preset_by_id(preset_id, **self.ids)
        preset = self.strict(got, rk.PresetGetPresetByIDResponse).data
        self.assertFalse(preset.permissions.kick_participant)
        self.assertTrue(preset.permissions.pin_participant)
        self.assertEqual(preset.permissions.waiting_room_type, "SKIP")

    def test_replace(self):
        preset_id = self.create("sdk_preset_replace")
        answer = self.kit.presets.with_raw_response.replace_preset_by_id(
            preset_id, **self.ids, name="sdk_preset_replaced", **PRESET
        )
        self.assertEqual(self.strict(answer, rk.PresetReplacePresetByIDResponse).data.name, "sdk_preset_replaced")


class Meetings(SdkTestCase):
    def test_create_get_and_list(self):
        meeting_id = self.meeting("sdk meeting")
        got = self.strict(self.kit.meetings.with_raw_response.get_meeting_by_id(meeting_id, **self.ids),
                          rk.MeetingGetMeetingByIDResponse)
        self.assertEqual(got.data.title, "sdk meeting")
        listed = self.strict(self.kit.meetings.with_raw_response.get(**self.ids, page_no=1, per_page=100),
                             rk.MeetingGetResponse)
        self.assertIn(meeting_id, [m.id for m in listed.data])

    def test_update(self):
        meeting_id = self.meeting("sdk before")
        answer = self.kit.meetings.with_raw_response.update_meeting_by_id(meeting_id, **self.ids, title="sdk after")
        self.assertEqual(self.strict(answer, rk.MeetingUpdateMeetingByIDResponse).data.title, "sdk after")

    def test_replace(self):
        meeting_id = self.meeting("sdk to replace")
        answer = self.kit.meetings.with_raw_response.replace_meeting_by_id(meeting_id, **self.ids, title="replaced")
        self.assertEqual(self.strict(answer, rk.MeetingReplaceMeetingByIDResponse).data.title, "replaced")

    def test_list_filters(self):
        before = datetime.now(timezone.utc) - timedelta(seconds=1)
        active = self.meeting("sdk filter one")
        inactive = self.meeting("sdk filter two")
        self.kit.meetings.update_meeting_by_id(inactive, **self.ids, status="INACTIVE")

        def listed(**query):
            answer = self.kit.meetings.with_raw_response.get(**self.ids, per_page=100, **query)
            return [m.id for m in self.strict(answer, rk.MeetingGetResponse).data]

        self.assertEqual(listed(status="ACTIVE", search="sdk filter"), [active])
        self.assertEqual(listed(status="INACTIVE", search="sdk filter"), [inactive])
        self.assertEqual(listed(search=inactive[:8]), [inactive], "a search matches ids too")
        self.assertEqual(listed(search="sdk filter", start_time=before), [active, inactive])
        self.assertEqual(listed(search="sdk filter", end_time=before), [])

    def test_media_settings_are_stored_and_answered(self):
        answer = self.kit.meetings.with_raw_response.create(
            **self.ids, title="sdk fields", record_on_start=False, summarize_on_end=True, transcribe_on_end=True,
            ai_config={"transcription": {"language": "en-US"}, "summarization": {"summary_type": "lecture"}},
            recording_config={"max_seconds": 60, "storage_config": {"type": "gcs", "secret": "not kept"}},
        )
        meeting_id = self.strict(answer, rk.MeetingCreateResponse, 201).data.id
        got = self.kit.meetings.with_raw_response.get_meeting_by_id(meeting_id, **self.ids)
        meeting = self.strict(got, rk.MeetingGetMeetingByIDResponse).data
        self.assertEqual((meeting.summarize_on_end, meeting.transcribe_on_end), (True, True))
        self.assertEqual(meeting.ai_config.transcription.language, "en-US")
        self.assertEqual(meeting.ai_config.summarization.summary_type, "lecture")
        self.assertEqual(meeting.recording_config.max_seconds, 60)
        self.assertIsNone(meeting.recording_config.storage_config, "storage credentials are not kept")


class Participants(SdkTestCase):
    def test_add_get_list_and_refresh_the_token(self):
        meeting_id = self.meeting("sdk participants")
        added = self.participant(meeting_id, "sdk-one")
        self.assertTrue(added.token)
        args = dict(meeting_id=meeting_id, **self.ids)
        got = self.strict(self.kit.meetings.with_raw_response.get_meeting_participant(added.id, **args),
                          rk.MeetingGetMeetingParticipantResponse)
        self.assertEqual(got.data.custom_participant_id, "sdk-one")
        listed = self.strict(self.kit.meetings.with_raw_response.get_meeting_participants(meeting_id, **self.ids),
                             rk.MeetingGetMeetingParticipantsResponse)
        self.assertEqual([p.id for p in listed.data], [added.id])
        token = self.strict(self.kit.meetings.with_raw_response.refresh_participant_token(added.id, **args),
                            rk.MeetingRefreshParticipantTokenResponse)
        self.assertTrue(token.data.token)

    def test_edit(self):
        meeting_id = self.meeting("sdk edit")
        added = self.participant(meeting_id, "sdk-edit")
        answer = self.kit.meetings.with_raw_response.edit_participant(
            added.id, meeting_id=meeting_id, **self.ids, name="edited"
        )
        self.assertEqual(self.strict(answer, rk.MeetingEditParticipantResponse).data.name, "edited")

    def test_delete(self):
        meeting_id = self.meeting("sdk delete")
        added = self.participant(meeting_id, "sdk-delete")
        answer = self.kit.meetings.with_raw_response.delete_meeting_participant(
            added.id, meeting_id=meeting_id, **self.ids
        )
        self.strict(answer, rk.MeetingDeleteMeetingParticipantResponse)
        listed = self.kit.meetings.get_meeting_participants(meeting_id, **self.ids)
        self.assertEqual(listed.data, [])


class ActiveSession(SdkTestCase):
    def test_get_kick_and_kick_all(self):
        meeting_id, host = self.live_meeting("sdk-active")
        guest = self.participant(meeting_id, "sdk-active-guest", "group_call_participant")
        SERVER.join(guest.token)
        session = self.strict(self.kit.active_session.with_raw_response.get_active_session(meeting_id, **self.ids),
                              rk.ActiveSessionGetActiveSessionResponse)
        self.assertEqual(session.data.associated_id, meeting_id)
        kicked = self.kit.active_session.with_raw_response.kick_participants(
            meeting_id, **self.ids, participant_ids=[guest.id]
        )
        self.assertEqual([p.id for p in self.strict(kicked, rk.ActiveSessionKickParticipantsResponse).data.participants],
                         [guest.id])
        ended = self.kit.active_session.with_raw_response.kick_all_participants(meeting_id, **self.ids)
        self.strict(ended, rk.ActiveSessionKickAllParticipantsResponse)
        with self.assertRaises(cloudflare.NotFoundError):
            self.kit.active_session.get_active_session(meeting_id, **self.ids)


class Sessions(SdkTestCase):
    def test_list_get_and_participants(self):
        meeting_id, host = self.live_meeting("sdk-sessions")
        listed = self.strict(self.kit.sessions.with_raw_response.get_sessions(**self.ids, associated_id=meeting_id),
                             rk.SessionGetSessionsResponse)
        [session] = listed.data.sessions
        got = self.strict(self.kit.sessions.with_raw_response.get_session_details(session.id, **self.ids),
                          rk.SessionGetSessionDetailsResponse)
        self.assertEqual(got.data.id, session.id)

    def test_participants(self):
        meeting_id, host = self.live_meeting("sdk-session-peers")
        session = self.kit.active_session.get_active_session(meeting_id, **self.ids).data
        answer = self.kit.sessions.with_raw_response.get_session_participants(session.id, **self.ids)
        peers = self.strict(answer, rk.SessionGetSessionParticipantsResponse).data.participants
        self.assertEqual([p.custom_participant_id for p in peers], [host.custom_participant_id])

    def test_one_participant(self):
        meeting_id, host = self.live_meeting("sdk-session-peer")
        session = self.kit.active_session.get_active_session(meeting_id, **self.ids).data
        [peer] = self.kit.sessions.get_session_participants(session.id, **self.ids).data.participants
        answer = self.kit.sessions.with_raw_response.get_session_participant_details(
            peer.id, session_id=session.id, **self.ids
        )
        stay = self.strict(answer, rk.SessionGetSessionParticipantDetailsResponse).data.participant
        self.assertEqual((stay.id, stay.user_id), (peer.id, host.id))

    def test_participant_data_from_peer_id(self):
        meeting_id, host = self.live_meeting("sdk-peer-report")
        session = self.kit.active_session.get_active_session(meeting_id, **self.ids).data
        [peer] = self.kit.sessions.get_session_participants(session.id, **self.ids).data.participants
        answer = self.kit.sessions.with_raw_response.get_participant_data_from_peer_id(
            peer.id, **self.ids, filters="events"
        )
        stay = self.strict(answer, rk.SessionGetParticipantDataFromPeerIDResponse).data.participant
        self.assertEqual((stay.user_id, stay.session_id), (host.id, session.id))

    def test_list_sorted_and_filtered(self):
        before = datetime.now(timezone.utc) - timedelta(seconds=1)
        first, _ = self.live_meeting("sdk-sorted-first")
        second, _ = self.live_meeting("sdk-sorted-second")

        def listed(**query):
            answer = self.kit.sessions.with_raw_response.get_sessions(**self.ids, per_page=100, **query)
            return [s.associated_id for s in self.strict(answer, rk.SessionGetSessionsResponse).data.sessions]

        self.assertEqual(listed(search="sdk-sorted", sort_by="createdAt", sort_order="ASC"), [first, second])
        self.assertEqual(listed(search="sdk-sorted", sort_by="createdAt", sort_order="DESC"), [second, first])
        self.assertEqual(listed(search="sdk-sorted", status="LIVE", start_time=before), [second, first])
        self.assertEqual(listed(search="sdk-sorted", end_time=before), [])
        self.assertEqual(listed(search="sdk-sorted", status="ENDED"), [])
        # The first session's host has been in longer: more participant-minutes.
        self.assertEqual(listed(search="sdk-sorted", sort_by="minutesConsumed", sort_order="DESC"), [first, second])


class Recordings(SdkTestCase):
    def test_start_pause_resume_stop_get_and_list(self):
        meeting_id, host = self.live_meeting("sdk-recording")
        started = self.kit.recordings.with_raw_response.start_recordings(**self.ids, meeting_id=meeting_id)
        recording_id = self.strict(started, rk.RecordingStartRecordingsResponse).data.id
        for action in ("pause", "resume", "stop"):
            answer = self.kit.recordings.with_raw_response.pause_resume_stop_recording(
                recording_id, **self.ids, action=action
            )
            self.strict(answer, rk.RecordingPauseResumeStopRecordingResponse)
        got = self.strict(self.kit.recordings.with_raw_response.get_one_recording(recording_id, **self.ids),
                          rk.RecordingGetOneRecordingResponse)
        self.assertEqual(got.data.id, recording_id)
        listed = self.strict(self.kit.recordings.with_raw_response.get_recordings(**self.ids, meeting_id=meeting_id),
                             rk.RecordingGetRecordingsResponse)
        self.assertEqual([r.id for r in listed.data], [recording_id])

        def listed(**query):
            answer = self.kit.recordings.with_raw_response.get_recordings(**self.ids, meeting_id=meeting_id, **query)
            return [r.id for r in self.strict(answer, rk.RecordingGetRecordingsResponse).data]

        self.assertEqual(listed(status=["UPLOADED", "UPLOADING"], sort_by="invokedTime", sort_order="ASC"),
                         [recording_id])
        self.assertEqual(listed(status=["RECORDING"]), [])
        self.assertEqual(listed(expired=False, search="sdk-recording"), [recording_id])
        self.assertEqual(listed(expired=True), [], "nothing expires here")

    def test_active_recording(self):
        meeting_id, host = self.live_meeting("sdk-recording-active")
        recording_id = self.kit.recordings.start_recordings(**self.ids, meeting_id=meeting_id).data.id
        answer = self.kit.recordings.with_raw_response.get_active_recordings(meeting_id, **self.ids)
        self.assertEqual(self.strict(answer, rk.RecordingGetActiveRecordingsResponse).data.id, recording_id)


class Webhooks(SdkTestCase):
    def create(self, name: str) -> str:
        answer = self.kit.webhooks.with_raw_response.create_webhook(
            **self.ids, name=name, url="http://127.0.0.1:9/hook", events=["meeting.started"]
        )
        return self.strict(answer, rk.WebhookCreateWebhookResponse, 201).data.id

    def test_create_get_list_edit_and_delete(self):
        webhook_id = self.create("sdk hook")
        got = self.strict(self.kit.webhooks.with_raw_response.get_webhook_by_id(webhook_id, **self.ids),
                          rk.WebhookGetWebhookByIDResponse)
        self.assertEqual(got.data.name, "sdk hook")
        edited = self.kit.webhooks.with_raw_response.edit_webhook(webhook_id, **self.ids, name="sdk hook 2")
        self.assertEqual(self.strict(edited, rk.WebhookEditWebhookResponse).data.name, "sdk hook 2")
        deleted = self.kit.webhooks.with_raw_response.delete_webhook(webhook_id, **self.ids)
        self.strict(deleted, rk.WebhookDeleteWebhookResponse)

    def test_list(self):
        webhook_id = self.create("sdk hook listed")
        listed = self.strict(self.kit.webhooks.with_raw_response.get_webhooks(**self.ids), rk.WebhookGetWebhooksResponse)
        self.assertIn(webhook_id, [w.id for w in listed.data])

    def test_replace(self):
        webhook_id = self.create("sdk hook to replace")
        answer = self.kit.webhooks.with_raw_response.replace_webhook(
            webhook_id, **self.ids, name="replaced", url="http://127.0.0.1:9/other", events=["meeting.ended"]
        )
        self.assertEqual(self.strict(answer, rk.WebhookReplaceWebhookResponse).data.url, "http://127.0.0.1:9/other")


if __name__ == "__main__":
    unittest.main()
