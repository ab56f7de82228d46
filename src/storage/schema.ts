/**
 * The tables of the MySQL store, created when missing. Names and ids are compared byte for byte (utf8mb4_bin),
 * as the memory store's map keys are; times are epoch milliseconds. `seq` orders queues and histories
 * (two messages can share a millisecond). A member's preset controls and a room's broadcast settings are
 * JSON: they are only ever read whole, by their key, and their fields grow with the features.
 */
const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';

export const SCHEMA: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS users_auth (
    dev_id INT UNSIGNED NOT NULL,
    user_id BIGINT NOT NULL,
    hash VARCHAR(32) NOT NULL,
    PRIMARY KEY (dev_id, user_id)
  ) ${TABLE_OPTIONS}`,
  `CREATE TABLE IF NOT EXISTS conference (
    dev_id INT UNSIGNED NOT NULL,
    room VARCHAR(64) NOT NULL,
    user_id BIGINT NOT NULL,
    caller_id BIGINT NOT NULL,
    message MEDIUMTEXT NOT NULL,
    profile VARCHAR(64) NOT NULL,
    viewer_only BOOLEAN NOT NULL,
    node VARCHAR(255) NOT NULL,
    call_key VARCHAR(64) NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (dev_id, room, user_id),
    KEY by_user (dev_id, user_id)
  ) ${TABLE_OPTIONS}`,
  `CREATE TABLE IF NOT EXISTS conference_presets (
    dev_id INT UNSIGNED NOT NULL,
    room VARCHAR(64) NOT NULL,
    user_id BIGINT NOT NULL,
    controls TEXT NOT NULL,
    PRIMARY KEY (dev_id, room, user_id)
  ) ${TABLE_OPTIONS}`,
  `CREATE TABLE IF NOT EXISTS conference_broadcast (
    dev_id INT UNSIGNED NOT NULL,
    room VARCHAR(64) NOT NULL,
    settings TEXT NOT NULL,
    PRIMARY KEY (dev_id, room)
  ) ${TABLE_OPTIONS}`,
  `CREATE TABLE IF NOT EXISTS users_messages (
    dev_id INT UNSIGNED NOT NULL,
    user_id BIGINT NOT NULL,
    seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    id VARCHAR(64) NOT NULL,
    event VARCHAR(64) NOT NULL,
    message MEDIUMTEXT NOT NULL,
    queued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (dev_id, user_id, seq),
    KEY (seq),
    KEY (expires_at)
  ) ${TABLE_OPTIONS}`,
  `CREATE TABLE IF NOT EXISTS pipes_messages (
    dev_id INT UNSIGNED NOT NULL,
    pipe VARCHAR(64) NOT NULL,
    seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    id VARCHAR(64) NOT NULL,
    time BIGINT NOT NULL,
    event VARCHAR(64) NOT NULL,
    message MEDIUMTEXT NOT NULL,
    user_id BIGINT NOT NULL,
    expires_at BIGINT NULL,
    PRIMARY KEY (dev_id, pipe, seq),
    KEY (seq),
    KEY (expires_at)
  ) ${TABLE_OPTIONS}`,
  `CREATE TABLE IF NOT EXISTS pipes_settings (
    dev_id INT UNSIGNED NOT NULL,
    pipe VARCHAR(64) NOT NULL,
    length INT NOT NULL,
    PRIMARY KEY (dev_id, pipe)
  ) ${TABLE_OPTIONS}`,
  `CREATE TABLE IF NOT EXISTS users_data (
    dev_id INT UNSIGNED NOT NULL,
    user_id BIGINT NOT NULL,
    data MEDIUMTEXT NOT NULL,
    PRIMARY KEY (dev_id, user_id)
  ) ${TABLE_OPTIONS}`,
  `CREATE TABLE IF NOT EXISTS users_time (
    dev_id INT UNSIGNED NOT NULL,
    user_id BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (dev_id, user_id)
  ) ${TABLE_OPTIONS}`,
  // A tenant's own CometQL password, as MySQL keeps one: '*' and the hex of SHA1(SHA1(password)).
  `CREATE TABLE IF NOT EXISTS tenants (
    dev_id INT UNSIGNED NOT NULL,
    password_hash CHAR(41) NOT NULL,
    PRIMARY KEY (dev_id)
  ) ${TABLE_OPTIONS}`,
];
