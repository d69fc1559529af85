-- The journal writes a batch of messages from many rooms in one transaction.
-- Every structure keyed by room first gets one dirty page per room in the
-- batch, and each is written to the WAL, fsynced, and written again at the
-- checkpoint. Two such structures did not need to be keyed by room:
--
-- * The search index's rows (its text and its sizes) were keyed
--   room_id * 2^32 + seq. New messages now take the next number in arrival
--   order (`search_id`), so a batch appends to the same few last pages. The
--   numbers of the rows already indexed stay what they were; new ones come
--   after the largest of them.
-- * The client id index led with the room. It now leads with the client id,
--   which the browser starts with the time it was made, so new ids also land
--   on the index's last pages. It enforces the same rule: a client id once
--   per room.
ALTER TABLE entries ADD COLUMN search_id INTEGER;
UPDATE entries SET search_id = room_id * 4294967296 + seq
    WHERE room_id * 4294967296 + seq IN (SELECT rowid FROM entries_search);
CREATE UNIQUE INDEX entries_search_id ON entries (search_id) WHERE search_id IS NOT NULL;
DROP INDEX entries_client_id;
CREATE UNIQUE INDEX entries_client_id ON entries (client_id, room_id) WHERE client_id IS NOT NULL;
