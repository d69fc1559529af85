-- Rooms are created the first time someone joins them.
CREATE TABLE rooms (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- A room's log: messages and join/leave notices, numbered 1, 2, 3, ... per
-- room. The primary key is the (room, seq) index every history page reads;
-- WITHOUT ROWID stores rows in that order so a page is one contiguous range.
CREATE TABLE entries (
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    nick TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('message', 'joined', 'left')),
    client_id TEXT,
    body TEXT,
    PRIMARY KEY (room_id, seq),
    CHECK ((kind = 'message') = (client_id IS NOT NULL AND body IS NOT NULL))
) WITHOUT ROWID;

-- A resent message (same client id) finds its original instead of being stored twice.
CREATE UNIQUE INDEX entries_client_id ON entries (room_id, client_id) WHERE client_id IS NOT NULL;
