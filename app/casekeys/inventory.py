"""Every text column of the schema, classified (issue 15, "data at rest").

A String, Text or JSON column is either sealed (:class:`EncryptedText`, its
table on CASE_SEALED or FIELD_SEALED in app/casekeys/service.py), the plaintext
twin of a sealed column kept until ``keys rotate`` empties it
(``LEGACY_PLAINTEXT``), or listed here with why it may stay in plain text.
tests/security/test_data_at_rest.py walks the metadata and fails on a column
that is none of these, so a new column must be classified when it is added.

The list lives next to CASE_SEALED (same package, one place for the whole
classification) rather than in the test, so a reviewer sees the known gaps
in the code that owns sealing. Entries that start with :data:`GAP` hold
personal free text that is NOT sealed yet: they are the open work of issue 15,
kept visible on purpose, and they survive crypto-shredding.
"""

from __future__ import annotations

from sqlalchemy import JSON, MetaData, String, Text

from app.casekeys.freetext import LEGACY_PLAINTEXT
from app.casekeys.service import CASE_SEALED, FIELD_SEALED
from app.platform.crypto import EncryptedText

GAP = "NOT YET SEALED (gap): "
#: Personal data that is not free text and is plain by a design decision.
BY_DESIGN = "PLAIN BY DESIGN: "

_CODE = "a code or enum value"
_HASH = "a hash or fingerprint"
_ID = "an id, key or reference, no content"
_AUTHOR = "a copy of a professional's name (directory data, not about a client)"
_OPS = "operational data (job, worker, lease, error class), never client content"

PLAIN: dict[str, str] = {
    # --- audit (app/audit owns it: rows hold ids and counts, never content) ---
    "audit_events.actor_name": _AUTHOR,
    "audit_events.actor_organisation": _ID,
    "audit_events.actor_roles": _CODE,
    "audit_events.action": _CODE,
    "audit_events.target_type": _CODE,
    "audit_events.target_id": _ID,
    "audit_events.outcome": _CODE,
    "audit_events.reason": "a denial code (status:reason), never client content",
    "audit_events.purpose": "the stated purpose: ids and counts only (house rule)",
    "audit_events.request_id": _ID,
    "audit_events.client_ip": "a professional's client address (security log)",
    "audit_events.chain_period": _CODE,
    "audit_events.prev_hash": _HASH,
    "audit_events.row_hash": _HASH,
    "audit_period_stubs.period": _CODE,
    "audit_period_stubs.prev_hash": _HASH,
    "audit_period_stubs.head_hash": _HASH,
    # --- platform and operations ---
    "idempotency_keys.key": _ID,
    "idempotency_keys.fingerprint": _HASH,
    "idempotency_keys.response_headers": "response headers (Location, ETag): ids only",
    "idempotency_keys.target_type": _CODE,
    "idempotency_keys.target_id": _ID,
    "job_leases.name": _OPS,
    "job_leases.lease_owner": _OPS,
    "job_leases.last_error_class": _OPS,
    "job_runs.job": _OPS,
    "job_runs.owner": _OPS,
    "job_runs.outcome": _OPS,
    "job_runs.error_class": _OPS,
    "outbox_events.type": _CODE,
    "outbox_events.target_type": _CODE,
    "webhook_cursors.name": _OPS,
    "webhook_endpoints.url": "an organisation's endpoint address",
    "webhook_endpoints.event_types": _CODE,
    "webhook_endpoints.description": "an organisation's label for its endpoint",
    "webhook_endpoints.disabled_reason": _OPS,
    "webhook_deliveries.event_type": _CODE,
    "webhook_deliveries.status": _CODE,
    "webhook_deliveries.claimed_by": _OPS,
    "webhook_deliveries.last_error": _OPS,
    "webhook_deliveries.dropped_reason": _OPS,
    "webhook_attempts.error": _OPS,
    "webhook_attempts.worker": _OPS,
    "case_keys.wrapped_key": "a case data key sealed under a field key",
    "case_keys.key_version": _ID,
    # --- directory (organisations, teams, professionals, services) ---
    "organisations.code": _ID,
    "organisations.name": "an organisation's name (directory data)",
    "organisations.kind": _CODE,
    "teams.name": "a team's name (directory data)",
    "teams.kind": _CODE,
    "teams.area": "a team's area (directory data)",
    "team_memberships.team_role": _CODE,
    "users.issuer": _ID,
    "users.subject": _ID,
    "users.name": _AUTHOR,
    "users.roles": _CODE,
    "service_entries.service_type": _CODE,
    "service_entries.name": "a public service's name (directory data)",
    "service_entries.areas": "a public service's areas (directory data)",
    "service_entries.languages": _CODE,
    "service_entries.contact_phone": "a public service's phone (directory data)",
    "service_entries.contact_web": "a public service's web address (directory data)",
    "instrument_definitions.code": _CODE,
    "instrument_definitions.scheme": _CODE,
    "instrument_definitions.definition": "a published instrument (questions), no answers",
    "instrument_definitions.content_hash": _HASH,
    # --- persons (identity under the field key; see FIELD_SEALED) ---
    "persons.given_name": BY_DESIGN + "a name, searched by prefix (app/cases/service.py); "
    "shared by every case of the person, so no case shred may take it",
    "persons.family_name": BY_DESIGN + "a name, searched by prefix, as given_name",
    "persons.preferred_language": _CODE,
    "persons.identity_code_index": "a keyed blind index (HMAC) of the sealed identity code",
    "person_versions.author_name": _AUTHOR,
    "person_versions.changed_fields": "names of the changed fields, no values",
    "person_case_fact_versions.author_name": _AUTHOR,
    "person_case_fact_versions.changed_fields": "names of the changed fields, no values",
    "person_consents.basis": _CODE,
    "person_consents.scope": _CODE,
    "person_consents.service_name": "the service a consent names (directory data)",
    "person_consents.given_by": _CODE,
    "person_consents.method": _CODE,
    # --- cases ---
    "cases.scheme": _CODE,
    "cases.reference": "a random case handle, never personal data",
    "cases.status": _CODE,
    "cases.risk_level": _CODE,
    "cases.closure_outcome": _CODE,
    "case_transitions.from_status": _CODE,
    "case_transitions.to_status": _CODE,
    "case_transitions.outcome": _CODE,
    "case_transitions.gates": _CODE,
    "case_members.case_role": _CODE,
    "case_participants.role": _CODE,
    "case_notes.author_name": _AUTHOR,
    "case_notes.author_role": _CODE,
    "case_notes.visibility": _CODE,
    "case_notes.kind": _CODE,
    "emergency_grants.role": _CODE,
    "emergency_grants.review_finding": _CODE,
    # --- risk ---
    "assessments.instrument_code": _CODE,
    "assessments.instrument_hash": _HASH,
    "assessments.scheme": _CODE,
    "assessments.status": _CODE,
    # Free text (source, evidence, note) sealed in answer_text_enc (LEGACY_JSON_TEXT).
    "assessments.answers": "item and answer codes per item (JSON)",
    # Text-kind values sealed in judgement_text_enc (LEGACY_JSON_DICT_TEXT, 0026).
    "assessments.judgement": "judgement field codes -> choice codes, dates, booleans; "
    "null where a text was given (JSON)",
    "assessments.result": "the evaluated outcome: criterion codes and fixed reasons (JSON)",
    "assessments.risk_level": _CODE,
    "assessments.assessor_name": _AUTHOR,
    "case_incidents.source": _CODE,
    "external_assessments.tool": _CODE,
    "external_assessments.assessor": _AUTHOR,
    "external_assessments.summary_rating": _CODE,
    # --- plans and meetings ---
    "plans.kind": _CODE,
    "plan_measures.category": _CODE,
    "plan_measures.status": _CODE,
    "meetings.kind": _CODE,
    "meeting_agenda_items.reason": _CODE,
    "meeting_minutes.kind": _CODE,
    "meeting_minutes.information_kind": _CODE,
    # --- referrals (sealed under the case key: shared_enc and the free text) ---
    "referrals.urgency": _CODE,
    "referrals.shared_fields": "names of the shared fields, no values",
    "referrals.basis_kind": _CODE,
    "referrals.status": _CODE,
    "referrals.held_from": _CODE,
    "referrals.reason_code": _CODE,
    "referrals.outcome": _CODE,
    "referral_events.from_status": _CODE,
    "referral_events.to_status": _CODE,
    "referral_events.side": _CODE,
    "referral_events.actor_name": _AUTHOR,
    "referral_events.reason_code": _CODE,
    "referral_events.outcome": _CODE,
    # --- concerns (free text and names as submitted under the field key) ---
    "concerns.legal_basis": _CODE,
    "concerns.urgency": _CODE,
    "concerns.status": _CODE,
    "concerns.decision": _CODE,
    # --- retention and access requests (other owners) ---
    "legal_holds.target_type": _CODE,
    "legal_holds.ground": _CODE,
    "legal_holds.lift_ground": _CODE,
    "legal_holds.reference": BY_DESIGN
    + "a case or diary number (validated pattern, no prose; app/retention/schemas.py)",
    "legal_holds.lift_reference": BY_DESIGN + "a case or diary number, as reference",
    "access_requests.requester_kind": _CODE,
    "access_requests.identity_verification": _CODE,
    "access_requests.extension_reason": _CODE,
    "access_requests.extension_proposed_reason": _CODE,
    "access_requests.status": _CODE,
    "access_requests.refusal_ground": _CODE,
    "access_requests.withholding_ground": _CODE,
    "access_request_deliveries.kind": _CODE,
    "access_request_deliveries.sha256": _HASH,
}


def gaps() -> dict[str, str]:
    """The columns that hold personal free text in plain text still."""
    return {column: why for column, why in PLAIN.items() if why.startswith(GAP)}


def unclassified(metadata: MetaData) -> list[str]:
    """``table.column`` of every text column that is not classified (see the module doc)."""
    found = []
    for table in metadata.sorted_tables:
        legacy = LEGACY_PLAINTEXT.get(table.name, {})
        for column in table.columns:
            name = f"{table.name}.{column.name}"
            if isinstance(column.type, EncryptedText):
                if table.name not in CASE_SEALED and table.name not in FIELD_SEALED:
                    found.append(
                        f"{name} (sealed, but its table is on neither CASE_SEALED nor FIELD_SEALED)"
                    )
            elif isinstance(column.type, String | Text | JSON):
                if column.name not in legacy and name not in PLAIN:
                    found.append(name)
    return found


def stale(metadata: MetaData) -> list[str]:
    """Entries of PLAIN that name no plain text column (removed, or sealed since)."""
    columns = {
        f"{t.name}.{c.name}"
        for t in metadata.sorted_tables
        for c in t.columns
        if isinstance(c.type, String | Text | JSON) and not isinstance(c.type, EncryptedText)
    }
    return sorted(set(PLAIN) - columns)
