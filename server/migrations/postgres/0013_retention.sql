-- Its owner may have a room's messages deleted after this many days (the
-- server's --retention-days, when shorter, wins); NULL: kept for ever.
ALTER TABLE rooms ADD COLUMN retention_days INTEGER;
