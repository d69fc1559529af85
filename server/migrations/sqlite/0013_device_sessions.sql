-- What each device's person needs to tell their devices apart on the
-- account page (the browser it is, when it was last used), and the session
-- that last published it: removing a device logs that session out, so a
-- lost browser stops reading as well as stops getting keys
-- (docs/SECURITY.md, "Removing a device").
ALTER TABLE devices ADD COLUMN browser TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN seen_at INTEGER;
-- A session's token hash (no reference: a session that ended leaves a
-- name that matches nothing).
ALTER TABLE devices ADD COLUMN session TEXT;
