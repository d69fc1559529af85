-- A room's owner may turn the assistant off in it: mentions of it there
-- are then not answered (crate::assistant).
ALTER TABLE rooms ADD COLUMN assistant_off INTEGER NOT NULL DEFAULT 0;

-- The room whose answer is being written, by whichever server, until when:
-- one answer per room at a time across a cluster. A server that dies
-- mid-answer leaves a claim that runs out.
CREATE TABLE assistant_turns (
    room TEXT PRIMARY KEY,
    held_until INTEGER NOT NULL
);
