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
    }
}

diesel::joinable!(schedules -> sites (site_id));
diesel::joinable!(clearance_slots -> sites (site_id));
diesel::allow_tables_to_appear_in_same_query!(
    enterprises,
    users,
    refresh_tokens,
    audit_events,
    sites,
    schedules,
    clearance_slots,
);
