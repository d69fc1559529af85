-- A room's owner may hide its join and leave notices: they are still sent
-- (as quiet crowds, which keep everyone's list of who is online right) but
-- not drawn, as in a room above --notices-quiet-above.
ALTER TABLE rooms ADD COLUMN quiet_notices INTEGER NOT NULL DEFAULT 0;
