-- Pictures, videos and files (see the SQLite migration 0006).
CREATE TABLE room_members (
    room_id BIGINT NOT NULL REFERENCES rooms (id),
    author TEXT NOT NULL,
    media_key TEXT NOT NULL UNIQUE,
    PRIMARY KEY (room_id, author)
);

CREATE TABLE media (
    public_id TEXT PRIMARY KEY,
    room_id BIGINT NOT NULL REFERENCES rooms (id),
    uploader TEXT NOT NULL,
    blob TEXT NOT NULL,
    thumb TEXT,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('image', 'video', 'file')),
    size BIGINT NOT NULL,
    width INTEGER,
    height INTEGER,
    created_at BIGINT NOT NULL,
    seq BIGINT,
    position INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX media_message ON media (room_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX media_blob ON media (blob);
CREATE INDEX media_thumb ON media (thumb) WHERE thumb IS NOT NULL;
CREATE INDEX media_uploader ON media (uploader, created_at);

CREATE TABLE media_orphans (
    blob TEXT PRIMARY KEY
);
