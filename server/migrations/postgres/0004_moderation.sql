-- Moderation (see the SQLite migration 0005).
CREATE TABLE moderators (
    room_id BIGINT NOT NULL REFERENCES rooms (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (room_id, account_id)
);

CREATE TABLE bans (
    room_id BIGINT NOT NULL REFERENCES rooms (id),
    author TEXT NOT NULL,
    nick TEXT NOT NULL,
    banned_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, author)
);
