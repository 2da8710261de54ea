// The state database's schema, as an ordered list of migrations. PRAGMA user_version holds
// how many have run; each runs once, in its own transaction, so a database is always at
// one version. Never edit a migration that has shipped: add the next one.

export interface Migration {
  /** what it adds, for the log and the error a failed migration raises */
  what: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    what: 'devices, anomalies, meta',
    sql: `
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;

      -- One row per physical device (id: its MAC, or its address when a source had no MAC).
      -- name is the name every sink used for it, kept so a restart names it the same way.
      CREATE TABLE devices (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        mac           TEXT NOT NULL,
        ips           TEXT NOT NULL,          -- JSON array of addresses
        vendor        TEXT NOT NULL,
        hostname      TEXT NOT NULL,
        profile       TEXT NOT NULL,
        segment       TEXT NOT NULL,
        known         INTEGER NOT NULL,
        first_seen    INTEGER NOT NULL,       -- ms since epoch
        last_seen     INTEGER NOT NULL
      ) STRICT;

      -- Every anomaly while open, and closed ones for a retention time (the API reads them).
      -- cause is the lifecycle's key: repeats of it join the open anomaly after a restart.
      CREATE TABLE anomalies (
        id            TEXT PRIMARY KEY,
        cause         TEXT NOT NULL,
        state         TEXT NOT NULL CHECK (state IN ('open', 'closed')),
        device        TEXT NOT NULL,
        kind          TEXT NOT NULL,
        severity      TEXT NOT NULL,
        first_ms      INTEGER NOT NULL,
        last_ms       INTEGER NOT NULL,
        count         INTEGER NOT NULL,
        written_ms    INTEGER NOT NULL,       -- wall clock of the last write
        body          TEXT NOT NULL           -- the Anomaly as JSON, every field
      ) STRICT;
      CREATE INDEX anomalies_state ON anomalies (state, last_ms);
      CREATE INDEX anomalies_first ON anomalies (first_ms);
    `,
  },
  {
    what: 'alert outbox',
    sql: `
      -- The alert itself, once for all the channels that wait to deliver it.
      CREATE TABLE alert_bodies (
        key           TEXT PRIMARY KEY,
        refs          INTEGER NOT NULL,       -- outbox rows that wait to deliver it
        body          TEXT NOT NULL           -- the Alert as JSON
      ) STRICT;

      -- One row per (alert, channel) not yet acknowledged by the channel's receiver. A delivery
      -- deletes its row; a failed one moves next_ms on. key is the idempotency key the
      -- receiver sees (<id>:<event>), unique per channel so an event is queued once.
      CREATE TABLE outbox (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        channel       TEXT NOT NULL,
        key           TEXT NOT NULL,
        event         TEXT NOT NULL,
        kind          TEXT NOT NULL,
        device        TEXT NOT NULL,
        severity      TEXT NOT NULL,
        sev_rank      INTEGER NOT NULL,       -- 0 info .. 4 critical: the lowest go first when full
        created_ms    INTEGER NOT NULL,
        next_ms       INTEGER NOT NULL,       -- not to be tried before
        attempts      INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT NOT NULL DEFAULT '',
        UNIQUE (channel, key)
      ) STRICT;
      -- (shedding a full outbox sorts by sev_rank without an index: it is rare, every insert is not)
      CREATE INDEX outbox_due ON outbox (channel, next_ms, seq);

      -- Alerts beyond a channel's rate limit, rolled up for its next digest: counts only.
      CREATE TABLE held_digests (
        channel       TEXT NOT NULL,
        since_ms      INTEGER NOT NULL,       -- when the first of them was held
        total         INTEGER NOT NULL,
        severity      TEXT NOT NULL,          -- the highest held
        groups        TEXT NOT NULL,          -- JSON {"policy.violation from plugs-a1b2c3": 40, ...}
        PRIMARY KEY (channel, since_ms)
      ) STRICT;
    `,
  },
  {
    what: 'anomaly indexes for the API\'s pages',
    sql: `
      -- the API pages anomalies newest first by (first_ms, id), filtered by device or not:
      -- each page is one range walk of an index, no sort
      DROP INDEX anomalies_first;
      CREATE INDEX anomalies_page ON anomalies (first_ms, id);
      CREATE INDEX anomalies_device_page ON anomalies (device, first_ms, id);
    `,
  },
  {
    what: 'devices: the MUD URL a device announced',
    sql: `
      -- RFC 8520 MUD URL from DHCPv4 161, DHCPv6 112 or LLDP; '' when the device announced none
      ALTER TABLE devices ADD COLUMN mud_url TEXT NOT NULL DEFAULT '';
    `,
  },
  {
    what: 'learning: devices whose normal run --learn-for learns',
    sql: `
      -- One row per device learned (id: its MAC, or its address without one): when its period
      -- began, when it ended (NULL while learning; then its learned profile is in force), and
      -- what was seen (learn/period.ts's JSON of the observer's counts), kept across restarts.
      CREATE TABLE learning (
        id            TEXT PRIMARY KEY,
        started_ms    INTEGER NOT NULL,
        ended_ms      INTEGER,
        accepted      INTEGER NOT NULL DEFAULT 0,  -- 1: ended early through the API
        seen          TEXT NOT NULL
      ) STRICT;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;
