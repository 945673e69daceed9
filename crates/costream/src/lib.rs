//! Co-stream (连麦): a guest opens an invite link, signals over WHIP (RFC 9725) to the host's
//! HTTP, and sends camera and microphone over WebRTC into one guest slot of the show; the host
//! sends back a small return feed. The contract (links, routes, errors, codecs) is in
//! docs/costream.md.
//!
//! * [`invite`] — invites and slots, sans-IO.
//! * [`media`] — guest media decoded for the show, and encoders for what Marquee sends.
//! * [`guest`] — the native guest (`marquee guest join`).

pub mod guest;
pub mod invite;
pub mod media;
