-- When a room last had an entry, so the lobby can list the liveliest rooms
-- first without scanning every log.
ALTER TABLE rooms ADD COLUMN active_at INTEGER NOT NULL DEFAULT 0;
UPDATE rooms SET active_at = COALESCE((SELECT MAX(at) FROM entries WHERE room_id = rooms.id), created_at);
CREATE INDEX rooms_active_at ON rooms (active_at DESC);

-- Who was in which room when the server last stopped: their return after a
-- restart is a reconnect (no "joined" notice), and those who do not return
-- within the grace get their "left" notice then.
CREATE TABLE departed (
    room TEXT NOT NULL,
    nick TEXT NOT NULL,
    session TEXT NOT NULL
);

-- One row the health check rewrites to prove the database still commits.
CREATE TABLE health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    probed_at INTEGER NOT NULL
);
INSERT INTO health (id, probed_at) VALUES (1, 0);
