//! Co-stream (连麦): a guest opens an invite link, signals over WHIP (RFC 9725) to the host's
//! HTTP, and sends camera and microphone over WebRTC into one guest slot of the show; the host
//! sends back a small return feed. The contract (links, routes, errors, codecs) is in
//! docs/costream.md.
//!
//! * [`invite`] — invites and slots, sans-IO.
//! * [`host`] — the host: guests, their states, one WebRTC endpoint for all of them.
//! * [`signal`] — the HTTP routes: WHIP, the guest's state, the guest page.
//! * [`media`] — guest media decoded for the show, and encoders for what Marquee sends.
//! * [`guest`] — the native guest (`marquee guest join`).
//! * [`stun`] — the host's STUN Binding client (its server-reflexive address), sans-IO.
//! * [`ice`] — the ICE servers (TURN) a host hands its guests.
//! * [`turn`] — the native guest's TURN client, sans-IO.

pub mod guest;
pub mod host;
pub mod ice;
pub mod invite;
pub mod media;
mod net;
pub mod signal;
pub mod stun;
pub mod turn;

/// Installs str0m's crypto (DTLS, SRTP) for the process; harmless when already installed.
pub fn install_crypto() {
    str0m::crypto::from_feature_flags().install_process_default();
}
