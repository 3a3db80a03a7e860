-- SQLite compares text byte by byte already (BINARY): nothing to change. The PostgreSQL
-- migration of this name sets COLLATE "C" on the register's identifiers.
SELECT 1;
