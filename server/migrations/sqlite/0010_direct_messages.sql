-- Direct messages: a private room with no owner and exactly two members,
-- one per pair of accounts (`first_id` < `second_id`), so opening the
-- conversation from either side finds the same room.
CREATE TABLE direct_rooms (
    room_id INTEGER PRIMARY KEY REFERENCES rooms (id),
    first_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    second_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    UNIQUE (first_id, second_id)
);

CREATE INDEX direct_rooms_by_second ON direct_rooms (second_id);
