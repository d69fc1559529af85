-- Members of private rooms (see the SQLite migration 0009).
CREATE TABLE private_members (
    room_id BIGINT NOT NULL REFERENCES rooms (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (room_id, account_id)
);

CREATE INDEX private_members_by_account ON private_members (account_id);
