-- Replies, edits, deletions and reactions (see the SQLite migration 0004 for
-- what the columns hold), and full-text search over messages' current text.
ALTER TABLE entries DROP CONSTRAINT entries_kind_check;
ALTER TABLE entries DROP CONSTRAINT entries_check;
ALTER TABLE entries ADD CONSTRAINT entries_kind_check
    CHECK (kind IN ('message', 'joined', 'left', 'deleted', 'edit', 'delete', 'react', 'unreact'));
ALTER TABLE entries ADD CONSTRAINT entries_text_check
    CHECK ((kind = 'message') = (client_id IS NOT NULL AND body IS NOT NULL) OR kind IN ('edit', 'react', 'unreact'));
ALTER TABLE entries ADD COLUMN target BIGINT;
ALTER TABLE entries ADD COLUMN edited BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE entries ADD CONSTRAINT entries_target_check
    CHECK (kind NOT IN ('edit', 'delete', 'react', 'unreact') OR target IS NOT NULL);
CREATE INDEX entries_target ON entries (room_id, target) WHERE target IS NOT NULL;

-- Kept in step with the text by PostgreSQL itself: an edit re-indexes the
-- message, a deletion (text set to NULL) drops it from the index.
ALTER TABLE entries ADD COLUMN search tsvector
    GENERATED ALWAYS AS (CASE WHEN kind = 'message' THEN to_tsvector('simple', body) END) STORED;
CREATE INDEX entries_search ON entries USING GIN (search) WHERE kind = 'message';

CREATE TABLE reactions (
    room_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    emoji TEXT NOT NULL,
    author TEXT NOT NULL,
    nick TEXT NOT NULL,
    -- The seq of the entry that made it: reactions list first come first.
    reacted_in BIGINT NOT NULL,
    PRIMARY KEY (room_id, seq, emoji, author)
);
