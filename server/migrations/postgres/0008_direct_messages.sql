-- Direct messages (see the SQLite migration 0010).
CREATE TABLE direct_rooms (
    room_id BIGINT PRIMARY KEY REFERENCES rooms (id),
    first_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    second_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    UNIQUE (first_id, second_id)
);

CREATE INDEX direct_rooms_by_second ON direct_rooms (second_id);
