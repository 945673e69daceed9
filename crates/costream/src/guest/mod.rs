//! The native guest: `marquee guest join LINK` signals over WHIP and sends a camera (or the
//! synthetic one) and a microphone (or a tone) to the host, and keeps the return feed.
