-- End-to-end encryption (see the SQLite migration 0011).
ALTER TABLE rooms ADD COLUMN key_epoch BIGINT NOT NULL DEFAULT 0;

CREATE TABLE devices (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device_id TEXT NOT NULL UNIQUE,
    agree TEXT NOT NULL,
    sign TEXT NOT NULL,
    signature TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX devices_by_account ON devices (account_id);

CREATE TABLE room_epochs (
    room_id BIGINT NOT NULL REFERENCES rooms (id),
    epoch BIGINT NOT NULL,
    from_account TEXT NOT NULL,
    from_device TEXT NOT NULL,
    from_agree TEXT NOT NULL,
    from_sign TEXT NOT NULL,
    from_signature TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, epoch)
);

CREATE TABLE epoch_keys (
    room_id BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    device BIGINT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    iv TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    -- Wrapped again by another device of the same account (sharing what
    -- it holds with a newer one): that device's public record; NULL when
    -- the epoch's maker wrapped it.
    by_account TEXT,
    by_device TEXT,
    by_agree TEXT,
    by_sign TEXT,
    by_signature TEXT,
    PRIMARY KEY (device, room_id, epoch),
    FOREIGN KEY (room_id, epoch) REFERENCES room_epochs (room_id, epoch)
);
