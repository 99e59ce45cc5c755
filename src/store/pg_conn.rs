//! The connections of [`PgStore`](super::PgStore): a pool of clients that keep their
//! prepared statements, the schema and its migrations, and how PostgreSQL errors map to
//! ours.

use crate::error::Error;
use ::postgres::error::SqlState;
use ::postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;

/// A pooled connection with the statements it has prepared: the statements of every
/// message are parsed once per connection, not once per use.
pub(super) struct Client {
    client: ::postgres::Client,
    prepared: std::collections::HashMap<&'static str, ::postgres::Statement>,
}

impl std::ops::Deref for Client {
    type Target = ::postgres::Client;
    fn deref(&self) -> &::postgres::Client {
        &self.client
    }
}

impl std::ops::DerefMut for Client {
    fn deref_mut(&mut self) -> &mut ::postgres::Client {
        &mut self.client
    }
}

impl Client {
    /// `sql` prepared on this connection (once).
    pub(super) fn prepared(&mut self, sql: &'static str) -> Result<::postgres::Statement, Error> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let statement = self.client.prepare(sql).map_err(db_err)?;
        self.prepared.insert(sql, statement.clone());
        Ok(statement)
    }
}

/// Makes [`Client`]s for the pool.
#[derive(Debug)]
pub(super) struct Manager(pub(super) PostgresConnectionManager<NoTls>);

impl r2d2::ManageConnection for Manager {
    type Connection = Client;
    type Error = ::postgres::Error;

    fn connect(&self) -> Result<Client, ::postgres::Error> {
        Ok(Client {
            client: self.0.connect()?,
            prepared: std::collections::HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Client) -> Result<(), ::postgres::Error> {
        self.0.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut Client) -> bool {
        self.0.has_broken(&mut conn.client)
    }
}

/// Key of the advisory lock held while the schema is migrated.
pub(super) const SCHEMA_LOCK: i64 = 0x5341_4841_5941_0001;

/// The schema, one step per version. Applied in order, each once.
pub(super) const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "CREATE TABLE sahaya_session (
         key TEXT PRIMARY KEY,
         data TEXT NOT NULL,
         seen_at BIGINT NOT NULL
     );
     CREATE INDEX sahaya_session_seen ON sahaya_session (seen_at);
     CREATE TABLE sahaya_auto_reply (
         sender TEXT NOT NULL,
         sent_at BIGINT NOT NULL
     );
     CREATE INDEX sahaya_auto_reply_sender ON sahaya_auto_reply (sender, sent_at);
     CREATE INDEX sahaya_auto_reply_sent ON sahaya_auto_reply (sent_at);
     CREATE TABLE sahaya_delivery (
         key TEXT PRIMARY KEY,
         seen_at BIGINT NOT NULL
     );
     CREATE INDEX sahaya_delivery_seen ON sahaya_delivery (seen_at);
     CREATE TABLE sahaya_outbox (
         id BIGSERIAL PRIMARY KEY,
         conversation TEXT NOT NULL DEFAULT '',
         payload TEXT NOT NULL,
         created_at BIGINT NOT NULL,
         next_at BIGINT NOT NULL,
         attempts INTEGER NOT NULL DEFAULT 0,
         last_error TEXT,
         delivered_at BIGINT,
         gave_up_at BIGINT
     );
     CREATE INDEX sahaya_outbox_conversation ON sahaya_outbox (conversation);
     CREATE INDEX sahaya_outbox_waiting ON sahaya_outbox (next_at)
         WHERE delivered_at IS NULL AND gave_up_at IS NULL;",
    ),
    (
        2,
        "CREATE TABLE sahaya_reply_log (
         reply_id TEXT PRIMARY KEY,
         at BIGINT NOT NULL,
         lang TEXT NOT NULL,
         channel TEXT NOT NULL,
         decision TEXT NOT NULL,
         topic TEXT,
         confidence REAL NOT NULL,
         rule TEXT,
         queue TEXT,
         after_hours BOOLEAN NOT NULL,
         formality TEXT NOT NULL,
         conversation TEXT,
         fingerprint TEXT NOT NULL,
         text TEXT,
         helpful BOOLEAN,
         rating SMALLINT,
         comment TEXT,
         feedback_at BIGINT
     );
     CREATE INDEX sahaya_reply_log_at ON sahaya_reply_log (at);",
    ),
];

/// A PostgreSQL error as ours: losing or not getting a connection is `unavailable` (try
/// again later), anything else an internal error.
pub(super) fn db_err(e: ::postgres::Error) -> Error {
    let lost = e.is_closed()
        || e.code().is_none_or(|c| {
            c.code().starts_with("08")
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        });
    if lost {
        Error::unavailable("state database", e)
    } else {
        Error::internal("state database", e)
    }
}

/// `host:port/database` of a connection config, for messages.
pub(super) fn describe(config: &::postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            ::postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            ::postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{host}:{port}/{}",
        config.get_dbname().unwrap_or("(default)")
    )
}

/// Applies the migrations not applied yet, under an advisory lock.
pub(super) fn migrate(client: &mut ::postgres::Client) -> Result<(), Error> {
    let mut tx = client.transaction().map_err(db_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .map_err(db_err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS sahaya_schema (
             version INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .map_err(db_err)?;
    let applied: Vec<i32> = tx
        .query("SELECT version FROM sahaya_schema", &[])
        .map_err(db_err)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some(newer) = applied.iter().copied().find(|v| *v > known) {
        return Err(Error::internal(
            "state database schema",
            format!(
                "the database has schema version {newer}, newer than this Sahaya knows \
                 ({known}); upgrade Sahaya or use another database"
            ),
        ));
    }
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tx.batch_execute(sql).map_err(db_err)?;
        tx.execute(
            "INSERT INTO sahaya_schema (version) VALUES ($1)",
            &[version],
        )
        .map_err(db_err)?;
    }
    tx.commit().map_err(db_err)
}
