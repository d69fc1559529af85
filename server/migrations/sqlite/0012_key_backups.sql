-- Key backups: an account's room keys sealed with a key derived from its
-- recovery passphrase in the browser (docs/SECURITY.md). The server keeps
-- the PBKDF2 salt, a check sealed with that key, and the sealed keys; it
-- never sees the passphrase or the key.
CREATE TABLE key_backups (
    account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    salt TEXT NOT NULL,
    -- A fixed text sealed with the backup key: a wrong passphrase is told
    -- at once.
    checked TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- One epoch key in a backup, sealed with its backup key.
CREATE TABLE backup_keys (
    account_id INTEGER NOT NULL REFERENCES key_backups (account_id) ON DELETE CASCADE,
    room_id INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    iv TEXT NOT NULL,
    sealed TEXT NOT NULL,
    PRIMARY KEY (account_id, room_id, epoch)
) WITHOUT ROWID;
