-- Pictures, videos and files (see server/src/media).
--
-- Everyone who has joined a room, with the random key their browser uploads
-- to and fetches the room's media with (a ban deletes the row, so the key
-- stops working).
CREATE TABLE room_members (
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    author TEXT NOT NULL,
    media_key TEXT NOT NULL UNIQUE,
    PRIMARY KEY (room_id, author)
) WITHOUT ROWID;

-- One row per upload. `blob` and `thumb` are content addresses (SHA-256 of
-- the stored bytes) in the blob store, so the same bytes are kept once
-- however often they are uploaded; `public_id` is random. `seq` is the
-- message that carries it, NULL until it is sent.
CREATE TABLE media (
    public_id TEXT NOT NULL PRIMARY KEY,
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    uploader TEXT NOT NULL,
    blob TEXT NOT NULL,
    thumb TEXT,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('image', 'video', 'file')),
    size INTEGER NOT NULL,
    width INTEGER,
    height INTEGER,
    created_at INTEGER NOT NULL,
    seq INTEGER,
    position INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX media_message ON media (room_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX media_blob ON media (blob);
CREATE INDEX media_thumb ON media (thumb) WHERE thumb IS NOT NULL;
CREATE INDEX media_uploader ON media (uploader, created_at);

-- Blobs a deleted message (or an upload never sent) may have left unused;
-- the janitor deletes each one nothing refers to any more.
CREATE TABLE media_orphans (
    blob TEXT PRIMARY KEY
) WITHOUT ROWID;
