//! The native guest: `marquee guest join LINK` signals over WHIP and sends a camera (or the
//! synthetic one) and a microphone (or a tone) to the host, and keeps the return feed.
//!
//! * [`whip`] — the link, the offer, the state poll and leaving (docs/costream.md).
//! * [`http`] — a small bounded HTTP/1.1 client (`http://` and `https://`).
//! * `session` — one UDP socket and one str0m `Rtc`: media out, the return feed in.
//! * `sources`, `files` — capture through `marquee_capture`, and the return feed's files.
//! * `relay` — the guest's TURN allocation (`crate::turn`) when given one.

mod files;
pub mod http;
pub(crate) mod pipes;
mod relay;
mod session;
pub(crate) mod sources;
mod types;
pub mod whip;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub use relay::GuestTurn;
pub use types::{EndReason, GuestError, GuestOptions, GuestState, Progress, StateReport, Summary};
pub use whip::Link;

/// Joins the call and stays until `duration`, `stop`, or the host ends it; always leaves
/// (DELETE) on the way out once signalled. `progress` is called from this thread.
pub fn join(
    opts: &GuestOptions,
    stop: Arc<AtomicBool>,
    progress: impl FnMut(Progress),
) -> Result<(EndReason, Summary), GuestError> {
    if let Some(n) = &opts.name
        && (n.trim().is_empty() || n.chars().count() > 32)
    {
        return Err(GuestError::BadName);
    }
    let link = Link::parse(&opts.link)?;
    session::run(opts, &link, stop, progress)
}
