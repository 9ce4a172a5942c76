//! Table definitions shared by both backends (portable types only: TEXT ids,
//! UTC TIMESTAMP, BIGINT, BOOLEAN). Kept by hand in step with migrations/.

diesel::table! {
    enterprises (id) {
        id -> Text,
        legal_name -> Text,
        country -> Text,
        registration_code -> Text,
        customs_code -> Nullable<Text>,
        credit_class -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        live_holds -> Integer,
        webhook_count -> Integer,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        enterprise_id -> Nullable<Text>,
        email -> Text,
        display_name -> Text,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        family_id -> Text,
        user_id -> Text,
        token_hash -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_heads (entity_type, entity_id) {
        entity_type -> Text,
        entity_id -> Text,
        last_seq -> BigInt,
        last_hash -> Text,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        entity_type -> Text,
        entity_id -> Text,
        seq -> BigInt,
        occurred_at -> Timestamp,
        actor_id -> Nullable<Text>,
        actor_role -> Nullable<Text>,
        action -> Text,
        from_state -> Nullable<Text>,
        to_state -> Nullable<Text>,
        reason -> Nullable<Text>,
        request_id -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        tat_us -> BigInt,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(users -> enterprises (enterprise_id));
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::table! {
    sites (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        timezone -> Text,
        modes -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        min_notice_minutes -> Nullable<Integer>,
        min_notice_minutes_advanced -> Nullable<Integer>,
        horizon_days -> Nullable<Integer>,
        cancel_cutoff_minutes -> Nullable<Integer>,
        max_share_percent -> Nullable<Integer>,
        arrival_early_minutes -> Nullable<Integer>,
        arrival_late_minutes -> Nullable<Integer>,
        display_zones -> Text,
    }
}

diesel::table! {
    schedules (id) {
        id -> Text,
        site_id -> Text,
        mode -> Text,
        slot_minutes -> Integer,
        capacity -> Integer,
        days_of_week -> Integer,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        reserved_advanced -> Integer,
        release_minutes -> Integer,
    }
}

diesel::table! {
    clearance_slots (id) {
        id -> Text,
        site_id -> Text,
        mode -> Text,
        schedule_id -> Nullable<Text>,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        capacity -> Integer,
        booked -> Integer,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        reserved_advanced -> Integer,
        release_minutes -> Integer,
        reserved_until -> Nullable<Timestamp>,
        held -> Integer,
    }
}

diesel::table! {
    officer_sites (user_id, site_id) {
        user_id -> Text,
        site_id -> Text,
    }
}

diesel::joinable!(officer_sites -> users (user_id));
diesel::joinable!(officer_sites -> sites (site_id));
diesel::joinable!(schedules -> sites (site_id));
diesel::joinable!(clearance_slots -> sites (site_id));
diesel::table! {
    declarations (id) {
        id -> Text,
        number -> Nullable<Text>,
        enterprise_id -> Text,
        created_by -> Text,
        kind -> Text,
        site_id -> Text,
        transport_mode -> Text,
        consignor -> Text,
        consignee -> Text,
        origin_country -> Text,
        destination_country -> Text,
        currency -> Text,
        incoterm -> Text,
        invoice_total_minor -> BigInt,
        gross_mass_kg -> Text,
        status -> Text,
        risk_lane -> Nullable<Text>,
        assigned_officer_id -> Nullable<Text>,
        status_reason -> Nullable<Text>,
        version -> Integer,
        submitted_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    declaration_items (id) {
        id -> Text,
        declaration_id -> Text,
        line_no -> Integer,
        hs_code -> Text,
        description -> Text,
        quantity -> Text,
        unit -> Text,
        net_mass_kg -> Text,
        value_minor -> BigInt,
        origin_country -> Text,
    }
}

diesel::table! {
    declaration_counters (site_id, year, kind) {
        site_id -> Text,
        year -> Integer,
        kind -> Text,
        last_serial -> BigInt,
    }
}

diesel::joinable!(declaration_items -> declarations (declaration_id));

diesel::table! {
    bookings (id) {
        id -> Text,
        enterprise_id -> Text,
        declaration_id -> Text,
        slot_id -> Text,
        status -> Text,
        created_by -> Text,
        cancel_reason -> Nullable<Text>,
        cancelled_by_role -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
        gate_pass_version -> Integer,
        vehicle_plate -> Nullable<Text>,
        vehicle_country -> Nullable<Text>,
        trailer_plate -> Nullable<Text>,
        driver_name -> Nullable<Text>,
        driver_document -> Nullable<Text>,
        containers -> Text,
        checked_in_at -> Nullable<Timestamp>,
        checked_in_by -> Nullable<Text>,
    }
}

diesel::table! {
    booking_declarations (booking_id, declaration_id) {
        booking_id -> Text,
        declaration_id -> Text,
        position -> Integer,
        active -> Bool,
        left_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    vehicles (plate, country) {
        plate -> Text,
        country -> Text,
        last_booked_at -> Timestamp,
    }
}

diesel::joinable!(booking_declarations -> bookings (booking_id));

diesel::table! {
    closures (id) {
        id -> Text,
        site_id -> Text,
        mode -> Nullable<Text>,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        capacity -> Nullable<Integer>,
        reason -> Text,
        rebook -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        lifted_at -> Nullable<Timestamp>,
        lifted_by -> Nullable<Text>,
    }
}

diesel::table! {
    closure_slots (closure_id, slot_id) {
        closure_id -> Text,
        slot_id -> Text,
        previous_capacity -> Integer,
        previous_status -> Text,
    }
}

diesel::joinable!(closure_slots -> closures (closure_id));

diesel::table! {
    idempotency_keys (enterprise_id, key) {
        enterprise_id -> Text,
        key -> Text,
        request_hash -> Text,
        response_status -> Integer,
        response_body -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(bookings -> clearance_slots (slot_id));
diesel::joinable!(bookings -> declarations (declaration_id));

diesel::table! {
    webhooks (id) {
        id -> Text,
        enterprise_id -> Text,
        url -> Text,
        events -> Text,
        secret -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        redeliver_window_start -> Nullable<Timestamp>,
        redeliver_count -> Integer,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> Text,
        event_type -> Text,
        enterprise_id -> Text,
        payload -> Text,
        occurred_at -> Timestamp,
        fanned_out -> Bool,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        event_id -> Text,
        webhook_id -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        leased_until -> Nullable<Timestamp>,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Text,
        delivery_id -> Text,
        attempted_at -> Timestamp,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        duration_ms -> BigInt,
    }
}

diesel::joinable!(webhook_deliveries -> outbox_events (event_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));

diesel::table! {
    calendar_tokens (id) {
        id -> Text,
        enterprise_id -> Text,
        label -> Text,
        secret_hash -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    holds (id) {
        id -> Text,
        enterprise_id -> Text,
        slot_id -> Text,
        status -> Text,
        entry_id -> Nullable<Text>,
        booking_id -> Nullable<Text>,
        created_by -> Nullable<Text>,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    waitlist_entries (id) {
        id -> Text,
        enterprise_id -> Text,
        declaration_id -> Text,
        site_id -> Text,
        mode -> Text,
        window_from -> Timestamp,
        window_to -> Timestamp,
        status -> Text,
        hold_id -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(holds -> clearance_slots (slot_id));
diesel::joinable!(holds -> enterprises (enterprise_id));

diesel::allow_tables_to_appear_in_same_query!(
    holds,
    waitlist_entries,
    enterprises,
    users,
    refresh_tokens,
    sessions,
    login_throttle,
    audit_events,
    audit_heads,
    sites,
    officer_sites,
    schedules,
    clearance_slots,
    declarations,
    declaration_items,
    declaration_counters,
    bookings,
    booking_declarations,
    vehicles,
    closures,
    closure_slots,
    idempotency_keys,
    webhooks,
    outbox_events,
    webhook_deliveries,
    webhook_attempts,
    calendar_tokens,
);
