//! What a host can do to a platform chatter, whichever platform carries it out.

/// What to do to a chatter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModAction {
    /// Delete one message (Twitch: its IRC `id` tag; YouTube: the message's `id`).
    Delete { message_id: String },
    /// Keep the user out of chat for `seconds` (Twitch: 1 s to 14 days; YouTube: a temporary
    /// ban). `user_id`: Twitch's user id, YouTube's channel id.
    Timeout {
        user_id: String,
        seconds: u32,
        reason: String,
    },
    /// For good (until unbanned on the platform).
    Ban { user_id: String, reason: String },
}
