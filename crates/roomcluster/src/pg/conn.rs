//! One connection to Postgres, on a thread of its own.

use crate::redact::redact_url;
use crossbeam_channel as cb;
use marquee_room::store::StorageError;
use postgres::{Client, NoTls};

/// A request to the connection's thread.
type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// A connection to Postgres on its own thread.
pub(crate) struct Conn {
    jobs: cb::Sender<Job>,
}

impl Conn {
    /// Connect (and make the schema, once per database, under an advisory lock so that nodes
    /// starting together do not race).
    pub(crate) fn open(url: &str) -> Result<Conn, StorageError> {
        let (jobs, rx) = cb::unbounded::<Job>();
        let (ready_tx, ready) = cb::bounded(1);
        let target = url.to_string();
        // Connecting blocks on the client's own runtime too: on the thread, like the rest.
        std::thread::Builder::new()
            .name("room-postgres".into())
            .spawn(move || {
                let connected = Client::connect(&target, NoTls)
                    .and_then(|mut c| super::schema::ensure(&mut c).map(|()| c))
                    .and_then(|mut c| super::schema::limits(&mut c).map(|()| c));
                let mut client = match connected {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(pg_error(&e, &target)));
                        return;
                    }
                };
                for job in rx {
                    job(&mut client);
                }
            })
            .map_err(|e| StorageError::Backend(format!("cannot start a postgres thread: {e}")))?;
        ready.recv().map_err(|_| {
            StorageError::Backend("the postgres connection thread is gone".into())
        })??;
        Ok(Conn { jobs })
    }

    /// Run `f` on the connection's thread and wait for its answer.
    pub(crate) fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<R, postgres::Error> + Send + 'static,
    ) -> Result<R, StorageError> {
        let (tx, rx) = cb::bounded(1);
        let job: Job = Box::new(move |c| {
            let _ = tx.send(f(c));
        });
        self.jobs
            .send(job)
            .map_err(|_| StorageError::Backend("the postgres connection thread is gone".into()))?;
        rx.recv()
            .map_err(|_| StorageError::Backend("the postgres connection thread is gone".into()))?
            .map_err(|e| pg_error(&e, ""))
    }
}

/// A Postgres error as a storage error, with no secret in it: the server's message (which
/// never holds the password) or the connection failure, and the URL only as redacted.
pub(crate) fn pg_error(e: &postgres::Error, url: &str) -> StorageError {
    let mut text = match e.as_db_error() {
        Some(db) => format!("postgres: {} ({})", db.message(), db.code().code()),
        None => format!("postgres: {e}"),
    };
    if !url.is_empty() {
        text = format!("{text} [{}]", redact_url(url));
    }
    StorageError::Backend(text)
}

pub(crate) fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
pub(crate) fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
