-- pin-activation schema for SQLite.
-- Instants are INTEGER microseconds since the Unix epoch (UTC): exact, and
-- compared as numbers whatever the process time zone.

-- Users, their normalized logins, account state and password hash.
CREATE TABLE activation_users (
    id                 TEXT    NOT NULL PRIMARY KEY,
    display_name       TEXT    NOT NULL,
    role               TEXT    NOT NULL,
    email              TEXT    UNIQUE,
    phone              TEXT    UNIQUE,
    state              TEXT    NOT NULL CHECK (state IN ('pending', 'active', 'reset_required')),
    password_hash      TEXT,
    credential_version INTEGER NOT NULL DEFAULT 0 CHECK (credential_version >= 0),
    created_at         INTEGER NOT NULL
);

CREATE INDEX activation_users_created ON activation_users (created_at, id);

-- One row per user: the live PIN (all pin_* columns set, or none), the
-- account's consecutive PIN failures, and the user's one reset ticket. Kept
-- in one row so that every atomic promise of the PinStore contract is a
-- single-row UPDATE. No foreign key to activation_users: the PIN store may
-- be used with another UserStore.
CREATE TABLE activation_pins (
    user_id           TEXT    NOT NULL PRIMARY KEY,
    failures          INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    pin_id            TEXT,
    pin_hash          TEXT,
    purpose           TEXT    CHECK (purpose IN ('activation', 'reset')),
    channel_kind      TEXT    CHECK (channel_kind IN ('email', 'sms')),
    channel_address   TEXT,
    issued_at         INTEGER,
    expires_at        INTEGER,
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    issued_by         TEXT,
    ticket_hash       TEXT    UNIQUE,
    ticket_pin_id     TEXT,
    ticket_expires_at INTEGER,
    CHECK ((pin_id IS NULL) = (pin_hash IS NULL)
       AND (pin_id IS NULL) = (purpose IS NULL)
       AND (pin_id IS NULL) = (channel_kind IS NULL)
       AND (pin_id IS NULL) = (channel_address IS NULL)
       AND (pin_id IS NULL) = (issued_at IS NULL)
       AND (pin_id IS NULL) = (expires_at IS NULL)),
    CHECK ((ticket_hash IS NULL) = (ticket_pin_id IS NULL)
       AND (ticket_hash IS NULL) = (ticket_expires_at IS NULL))
);

-- Sends in the last 24 hours (cooldown and daily cap).
CREATE TABLE activation_sends (
    id      INTEGER NOT NULL PRIMARY KEY,
    user_id TEXT    NOT NULL,
    sent_at INTEGER NOT NULL
);

CREATE INDEX activation_sends_user ON activation_sends (user_id, sent_at);

-- The last delivery attempt per user and channel.
CREATE TABLE activation_deliveries (
    user_id     TEXT    NOT NULL,
    channel     TEXT    NOT NULL CHECK (channel IN ('email', 'sms')),
    at          INTEGER NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('delivered', 'failed')),
    provider_id TEXT,
    error_kind  TEXT    CHECK (error_kind IN ('transient', 'permanent')),
    PRIMARY KEY (user_id, channel)
);
