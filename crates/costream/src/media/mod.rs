//! Media between WebRTC and the show: guest VP8/H.264/Opus decoded into frames and audio
//! blocks, and encoders for what Marquee sends (the native guest's media, the return feed).
