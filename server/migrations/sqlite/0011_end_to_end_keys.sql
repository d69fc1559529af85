-- End-to-end encryption of private rooms and direct messages: the server
-- keeps public device keys and room keys wrapped for devices, never a key
-- it could use (docs/SECURITY.md).

-- The epoch messages in the room must be sealed with now; 0 when a new one
-- is due (nobody made one yet, or a member or a device came or went).
ALTER TABLE rooms ADD COLUMN key_epoch INTEGER NOT NULL DEFAULT 0;

-- Each browser an account uses: its public keys as it signed them. A
-- device id is unique across accounts, so a wrap names one device.
CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device_id TEXT NOT NULL UNIQUE,
    agree TEXT NOT NULL,
    sign TEXT NOT NULL,
    signature TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE INDEX devices_by_account ON devices (account_id);

-- Each epoch of a room's key, with the public record of the device that
-- made it (copied: the key stays readable after that device is gone).
CREATE TABLE room_epochs (
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    epoch INTEGER NOT NULL,
    from_account TEXT NOT NULL,
    from_device TEXT NOT NULL,
    from_agree TEXT NOT NULL,
    from_sign TEXT NOT NULL,
    from_signature TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, epoch)
) WITHOUT ROWID;

-- An epoch's key wrapped for one device.
CREATE TABLE epoch_keys (
    room_id INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    device INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
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
) WITHOUT ROWID;
