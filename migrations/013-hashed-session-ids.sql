-- Up Migration
-- sessions.sid held the session id itself, the bearer secret: whoever could read the table (a
-- backup, a replica, an injection) could use every open session in it. From now on it holds the
-- SHA-256 of the id, in lower-case hex, which the app computes from the cookie on each request.
-- The ids already there are hashed in place, so every open session keeps working.
UPDATE sessions SET sid = encode(sha256(convert_to(sid, 'UTF8')), 'hex');

-- Down Migration
-- A hash cannot be turned back into its id, and the code before this migration looks rows up by
-- the id: none of these rows could be used again. They are deleted rather than left to expire
-- (everyone logs in again).
DELETE FROM sessions;
