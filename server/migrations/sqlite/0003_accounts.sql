-- Registered people. `name_key` is the name as names are compared (Unicode
-- confusable skeleton, case folded): two accounts, or an account and a guest,
-- never share one. AUTOINCREMENT: a deleted account's id is never reused, so
-- an author id always means one person.
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Signed-in browsers. The cookie holds a random token; only its SHA-256 is
-- stored, so a copy of the database signs nobody in.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Who wrote each entry, whatever name it shows: `account:ID` or
-- `guest:SESSION` (the guest's tab session); older entries were all guests'.
ALTER TABLE entries ADD COLUMN author TEXT NOT NULL DEFAULT 'guest:';

-- A room created by a signed-in person belongs to them; they may close it to guests.
ALTER TABLE rooms ADD COLUMN owner_id INTEGER REFERENCES accounts (id) ON DELETE SET NULL;
ALTER TABLE rooms ADD COLUMN accounts_only INTEGER NOT NULL DEFAULT 0;
CREATE INDEX rooms_owner ON rooms (owner_id) WHERE owner_id IS NOT NULL;
