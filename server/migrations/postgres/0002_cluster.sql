-- A random name for the servers sharing this database: their Redis keys and
-- channels start with it, so two chats sharing one Redis never hear each other.
CREATE TABLE cluster (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL
);
INSERT INTO cluster (id, name) VALUES (1, substr(md5(random()::text || clock_timestamp()::text), 1, 12));
