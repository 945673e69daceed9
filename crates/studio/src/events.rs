//! Things that happen during a session, for the UI, the CLI and the summary.

use marquee_capture::{SessionClock, Sink};
use serde::Serialize;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Connecting,
    Connected,
    Disconnected,
    Reconnecting,
    Failed,
    Stopped,
    SourceLost,
    SourceBack,
    /// A scene went on air.
    Scene,
    Info,
}

/// One event. `dest` is the destination's index for output events.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub unix_ms: u64,
    pub session_ms: u64,
    pub dest: Option<usize>,
    /// Redacted URL, file path or source name.
    pub subject: String,
    pub kind: EventKind,
    pub attempt: Option<u32>,
    pub detail: String,
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.session_ms / 1000;
        write!(f, "[{:02}:{:02}:{:02}] ", s / 3600, s / 60 % 60, s % 60)?;
        if let Some(d) = self.dest {
            write!(f, "dest {} ", d + 1)?;
        }
        let verb = match self.kind {
            EventKind::Connecting => "connecting",
            EventKind::Connected => "connected",
            EventKind::Disconnected => "disconnected",
            EventKind::Reconnecting => "reconnecting",
            EventKind::Failed => "failed",
            EventKind::Stopped => "stopped",
            EventKind::SourceLost => "lost",
            EventKind::SourceBack => "is back",
            EventKind::Scene | EventKind::Info => "",
        };
        write!(f, "{}", self.subject)?;
        if !verb.is_empty() {
            write!(f, " {verb}")?;
        }
        if let Some(a) = self
            .attempt
            .filter(|a| *a > 1 || self.kind == EventKind::Reconnecting)
        {
            write!(f, " #{a}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// Where events go: a bounded live feed (dropping when nobody reads) and a capped log.
pub struct Events {
    clock: SessionClock,
    live: Sink<Event>,
    log: Mutex<Vec<Event>>,
}

impl Events {
    const LOG_CAP: usize = 2000;

    pub fn new(clock: SessionClock, live: Sink<Event>) -> Self {
        Self {
            clock,
            live,
            log: Mutex::new(Vec::new()),
        }
    }

    pub fn emit(
        &self,
        dest: Option<usize>,
        subject: &str,
        kind: EventKind,
        attempt: Option<u32>,
        detail: impl Into<String>,
    ) {
        let e = Event {
            unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            session_ms: self.clock.now().as_millis() as u64,
            dest,
            subject: subject.to_string(),
            kind,
            attempt,
            detail: detail.into(),
        };
        tracing::info!("{e}");
        let mut log = self.log.lock().expect("event log lock");
        if log.len() < Self::LOG_CAP {
            log.push(e.clone());
        }
        drop(log);
        self.live.send(e);
    }

    /// Everything logged so far.
    pub fn log(&self) -> Vec<Event> {
        self.log.lock().expect("event log lock").clone()
    }
}
