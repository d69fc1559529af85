-- Replies, edits, deletions and reactions. SQLite cannot change a CHECK
-- constraint in place, so the log is copied into a table with the new kinds.
--
-- `target` is the seq an edit, deletion or reaction acts on, or the message a
-- message replies to. A message row holds its current text (`edited` once
-- changed); a deleted one becomes kind 'deleted' with no text, and the edits
-- that carried its older texts become 'delete' rows without text: nothing of
-- it stays readable. Reactions' emoji sit in `body`.
CREATE TABLE entries_v4 (
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    nick TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('message', 'joined', 'left', 'deleted', 'edit', 'delete', 'react', 'unreact')),
    client_id TEXT,
    body TEXT,
    author TEXT NOT NULL DEFAULT 'guest:',
    target INTEGER,
    edited INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, seq),
    CHECK ((kind = 'message') = (client_id IS NOT NULL AND body IS NOT NULL) OR kind IN ('edit', 'react', 'unreact')),
    CHECK (kind NOT IN ('edit', 'delete', 'react', 'unreact') OR target IS NOT NULL)
) WITHOUT ROWID;
INSERT INTO entries_v4 (room_id, seq, at, nick, kind, client_id, body, author)
    SELECT room_id, seq, at, nick, kind, client_id, body, author FROM entries;
DROP TABLE entries;
ALTER TABLE entries_v4 RENAME TO entries;
CREATE UNIQUE INDEX entries_client_id ON entries (room_id, client_id) WHERE client_id IS NOT NULL;
-- A deletion finds the edits of its message without reading the whole log.
CREATE INDEX entries_target ON entries (room_id, target) WHERE target IS NOT NULL;
CREATE INDEX entries_author ON entries (author) WHERE author LIKE 'account:%';

-- Who reacted to which message with what; one row per person and emoji.
CREATE TABLE reactions (
    room_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    emoji TEXT NOT NULL,
    author TEXT NOT NULL,
    nick TEXT NOT NULL,
    -- The seq of the entry that made it: reactions list first come first.
    reacted_in INTEGER NOT NULL,
    PRIMARY KEY (room_id, seq, emoji, author)
) WITHOUT ROWID;

-- Full-text search over messages' current text. The rowid is
-- room_id * 2^32 + seq, so the store finds a message's row directly. The
-- store turns FTS5's secure-delete on when it opens the database (it needs
-- SQLite 3.42, newer than some tools that read this file).
CREATE VIRTUAL TABLE entries_search USING fts5 (body, tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO entries_search (rowid, body)
    SELECT room_id * 4294967296 + seq, body FROM entries WHERE kind = 'message';
