-- Moderation. A room's owner names moderators (accounts); the owner and
-- they may delete anyone's message, remove people and ban them.
CREATE TABLE moderators (
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (room_id, account_id)
) WITHOUT ROWID;

-- Who may not join a room: an author as entries store it (`account:ID` or
-- `guest:SESSION`), so a ban follows the person, not the name.
CREATE TABLE bans (
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    author TEXT NOT NULL,
    nick TEXT NOT NULL,
    banned_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, author)
) WITHOUT ROWID;
