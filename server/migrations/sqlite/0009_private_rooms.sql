-- Members of private rooms (names starting with '~'): only they may read one
-- or take part; its owner is its first. A name that is not a member's
-- answers as if the room did not exist.
CREATE TABLE private_members (
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (room_id, account_id)
) WITHOUT ROWID;

CREATE INDEX private_members_by_account ON private_members (account_id);
