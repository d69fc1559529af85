-- The PostgreSQL schema: the same tables as the SQLite migrations end with,
-- for several servers sharing one database.

-- Registered people. `name_key` is the name as names are compared (Unicode
-- confusable skeleton, case folded). Identity ids are never reused, so an
-- author id always means one person.
CREATE TABLE accounts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- `head` is the last `seq` of the room's log. Every server that appends to a
-- room locks its row first (`SELECT ... FOR UPDATE`) in the transaction that
-- inserts the entries, so servers writing one room at once still number its
-- log 1, 2, 3, ... without gaps or duplicates.
CREATE TABLE rooms (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    active_at BIGINT NOT NULL,
    head BIGINT NOT NULL DEFAULT 0,
    owner_id BIGINT REFERENCES accounts (id) ON DELETE SET NULL,
    accounts_only BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX rooms_active_at ON rooms (active_at DESC);
CREATE INDEX rooms_owner ON rooms (owner_id) WHERE owner_id IS NOT NULL;

-- A room's log: messages and join/leave notices, numbered per room.
CREATE TABLE entries (
    room_id BIGINT NOT NULL REFERENCES rooms (id),
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    nick TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('message', 'joined', 'left')),
    client_id TEXT,
    body TEXT,
    -- `account:ID`, `guest:SESSION` or `deleted:ID`; never sent to browsers.
    author TEXT NOT NULL,
    PRIMARY KEY (room_id, seq),
    CHECK ((kind = 'message') = (client_id IS NOT NULL AND body IS NOT NULL))
);
-- A resent message (same client id, through any server) finds its original.
CREATE UNIQUE INDEX entries_client_id ON entries (room_id, client_id) WHERE client_id IS NOT NULL;
-- Deleting an account rewrites its entries without scanning every log.
CREATE INDEX entries_author ON entries (author) WHERE author LIKE 'account:%';

-- Signed-in browsers; only the SHA-256 of the cookie's token is stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Who was in which room when a server last stopped (see the SQLite schema).
CREATE TABLE departed (
    room TEXT NOT NULL,
    nick TEXT NOT NULL,
    session TEXT NOT NULL
);

-- One row the health check rewrites to prove the database still commits.
CREATE TABLE health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    probed_at BIGINT NOT NULL
);
INSERT INTO health (id, probed_at) VALUES (1, 0);
