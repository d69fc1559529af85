-- The journal writes a batch of messages from many rooms in one transaction,
-- and its cost is mostly per row. This copies the log into a table that is
-- cheaper to write and has the same rules (SQLite cannot change a table's
-- CHECK constraints or key in place):
--
-- * Every b-tree keyed by room first gets one dirty page per room in a
--   batch, and each is written to the WAL, fsynced, and written again at
--   the checkpoint. Two such trees did not need that key:
--   - the search index's rows (its text and its sizes) were keyed
--     room_id * 2^32 + seq. New messages now take the next number in
--     arrival order (`search_id`), so a batch appends to the same few last
--     pages. Rows already indexed keep their numbers; new ones come after
--     the largest of them.
--   - the client id index led with the room. It now leads with the client
--     id, which the browser starts with the time it was made, so new ids
--     land on its last pages too. Same rule: a client id once per room.
-- * The CHECK constraints said `kind IN ('message', ...)`. SQLite evaluates
--   a constant list of more than two values by building a temporary b-tree,
--   every time a row is written: three of them for each message. The same
--   rules as chains of comparisons cost a few instructions.
CREATE TABLE entries_v7 (
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    nick TEXT NOT NULL,
    kind TEXT NOT NULL,
    client_id TEXT,
    body TEXT,
    author TEXT NOT NULL DEFAULT 'guest:',
    target INTEGER,
    edited INTEGER NOT NULL DEFAULT 0,
    -- The message's row in `entries_search`, while it has one.
    search_id INTEGER,
    PRIMARY KEY (room_id, seq),
    CHECK (kind = 'message' OR kind = 'joined' OR kind = 'left' OR kind = 'deleted'
        OR kind = 'edit' OR kind = 'delete' OR kind = 'react' OR kind = 'unreact'),
    CHECK ((kind = 'message') = (client_id IS NOT NULL AND body IS NOT NULL)
        OR kind = 'edit' OR kind = 'react' OR kind = 'unreact'),
    CHECK (target IS NOT NULL
        OR NOT (kind = 'edit' OR kind = 'delete' OR kind = 'react' OR kind = 'unreact'))
) WITHOUT ROWID;
INSERT INTO entries_v7 (room_id, seq, at, nick, kind, client_id, body, author, target, edited, search_id)
    SELECT room_id, seq, at, nick, kind, client_id, body, author, target, edited,
           CASE WHEN room_id * 4294967296 + seq IN (SELECT rowid FROM entries_search)
                THEN room_id * 4294967296 + seq END
    FROM entries;
DROP TABLE entries;
ALTER TABLE entries_v7 RENAME TO entries;
CREATE UNIQUE INDEX entries_client_id ON entries (client_id, room_id) WHERE client_id IS NOT NULL;
CREATE UNIQUE INDEX entries_search_id ON entries (search_id) WHERE search_id IS NOT NULL;
-- As before: a deletion finds the edits of its message; deleting an account
-- rewrites its entries.
CREATE INDEX entries_target ON entries (room_id, target) WHERE target IS NOT NULL;
CREATE INDEX entries_author ON entries (author) WHERE author LIKE 'account:%';
