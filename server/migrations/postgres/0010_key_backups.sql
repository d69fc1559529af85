-- Key backups (see the SQLite migration 0012).
CREATE TABLE key_backups (
    account_id BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    salt TEXT NOT NULL,
    checked TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE backup_keys (
    account_id BIGINT NOT NULL REFERENCES key_backups (account_id) ON DELETE CASCADE,
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    epoch BIGINT NOT NULL,
    iv TEXT NOT NULL,
    sealed TEXT NOT NULL,
    PRIMARY KEY (account_id, room_id, epoch)
);
