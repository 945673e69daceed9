//! The long connection both bilibili adapters speak (the web protocol by room id and the open
//! platform): on open, an auth packet (operation 7) with a deadline for its reply (8); once
//! joined, a heartbeat (2) at a fixed interval; every byte received puts off the silence
//! deadline; packets reassembled across reads ([`Reassembler`]). Sans-IO: the owning adapter
//! hands it bytes and the time, reads what to send, and decides what the packets mean.

use super::packet::{self, Packet, Reassembler};
use crate::source::Output;
use std::time::{Duration, Instant};

/// Timers and framing of one long connection; `who` names it in its messages ("bilibili",
/// "bilibili open platform").
#[derive(Debug)]
pub(crate) struct LongConnection {
    who: &'static str,
    heartbeat_body: &'static [u8],
    heartbeat: Duration,
    auth_timeout: Duration,
    silence_timeout: Duration,
    reasm: Reassembler,
    joined: bool,
    auth_deadline: Option<Instant>,
    next_heartbeat: Option<Instant>,
    silence_deadline: Option<Instant>,
}

impl LongConnection {
    pub(crate) fn new(
        who: &'static str,
        heartbeat_body: &'static [u8],
        heartbeat: Duration,
        auth_timeout: Duration,
        silence_timeout: Duration,
    ) -> Self {
        Self {
            who,
            heartbeat_body,
            heartbeat,
            auth_timeout,
            silence_timeout,
            reasm: Reassembler::default(),
            joined: false,
            auth_deadline: None,
            next_heartbeat: None,
            silence_deadline: None,
        }
    }

    /// The WebSocket opened: the auth packet to send first, and the deadlines armed.
    pub(crate) fn open(&mut self, now: Instant, auth_body: &[u8]) -> Output {
        self.reasm.clear();
        self.joined = false;
        self.auth_deadline = Some(now + self.auth_timeout);
        self.next_heartbeat = None;
        self.silence_deadline = Some(now + self.silence_timeout);
        Output::SendBinary(packet::encode(packet::VER_INT, packet::OP_AUTH, auth_body))
    }

    /// The connection is over (ended by its owner or dropped): no timer runs.
    pub(crate) fn close(&mut self) {
        self.auth_deadline = None;
        self.next_heartbeat = None;
        self.silence_deadline = None;
    }

    /// Open and not ended since.
    pub(crate) fn is_open(&self) -> bool {
        self.silence_deadline.is_some()
    }

    /// Bytes arrived: the whole packets in them go to `packets`, in order. A framing the
    /// client cannot read gives the `Reconnect` to act on once those packets are handled.
    pub(crate) fn receive(
        &mut self,
        now: Instant,
        data: &[u8],
        packets: &mut Vec<Packet>,
    ) -> Option<Output> {
        self.silence_deadline = Some(now + self.silence_timeout);
        self.reasm.push(data, packets).err().map(|e| {
            Output::Reconnect(format!(
                "{} sent a packet this client cannot read ({e})",
                self.who
            ))
        })
    }

    /// The auth reply's body: `Ok(true)` the first time it says joined (the heartbeat starts
    /// now), `Ok(false)` for a repeat, `Err(code)` for a refusal.
    pub(crate) fn auth_reply(&mut self, now: Instant, body: &[u8]) -> Result<bool, i64> {
        let code = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("code").and_then(serde_json::Value::as_i64))
            .unwrap_or(0);
        if code != 0 {
            return Err(code);
        }
        if self.joined {
            return Ok(false);
        }
        self.joined = true;
        self.auth_deadline = None;
        self.next_heartbeat = Some(now);
        Ok(true)
    }

    /// Time passed: a heartbeat to send, or the `Reconnect` for a missed auth reply or a
    /// silence.
    pub(crate) fn timeout(&mut self, now: Instant) -> Option<Output> {
        let expired = |d: Option<Instant>| d.is_some_and(|d| now >= d);
        if expired(self.auth_deadline) {
            return Some(Output::Reconnect(format!(
                "{} did not answer the login within {} s",
                self.who,
                self.auth_timeout.as_secs()
            )));
        }
        if expired(self.silence_deadline) {
            return Some(Output::Reconnect(format!(
                "{} sent nothing for {} s",
                self.who,
                self.silence_timeout.as_secs()
            )));
        }
        if expired(self.next_heartbeat) {
            self.next_heartbeat = Some(now + self.heartbeat);
            return Some(Output::SendBinary(packet::encode(
                packet::VER_INT,
                packet::OP_HEARTBEAT,
                self.heartbeat_body,
            )));
        }
        None
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        [
            self.auth_deadline,
            self.silence_deadline,
            self.next_heartbeat,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
