//! Room settings and closing the room: a moderator changes slow mode, mods-only, what happens
//! to blocked words and the per-minute rule; the host sets the playback URLs (what viewers
//! watch) and closes the room (everyone is
//! disconnected and only the host can open it again, by joining).

use super::base::{Cx, Sender, clean_text};
use super::moderation::Rules;
use crate::protocol::{ErrorCode, EventBody, Role, SettingsPatch};

/// The highest per-viewer rule a host may set (one message every 100 ms is no rule at all).
const MAX_USER_RATE_PER_MIN: u32 = 600;
/// The longest slow-mode interval.
const MAX_SLOW_MODE_S: u32 = 3600;

/// `close_room`.
#[derive(Debug)]
pub(super) struct CloseRoom {
    pub(super) reason: String,
}

/// `settings`: change the fields that are set.
pub(super) fn change(cx: &mut Cx, rules: &mut Rules, from: &Sender, patch: SettingsPatch) {
    let SettingsPatch {
        slow_mode_s,
        mods_only,
        blocked_mode,
        user_rate_per_min,
        playback,
    } = patch;
    if playback.is_some() && from.user.role != Role::Host {
        cx.refuse(
            from.conn,
            ErrorCode::Forbidden,
            "only the host may set the playback URLs",
        );
        return;
    }
    if let Some(Err(e)) = playback.as_deref().map(crate::playback::validate) {
        cx.error(from.conn, ErrorCode::Invalid, e.to_string());
        return;
    }
    if user_rate_per_min.is_some_and(|r| r > MAX_USER_RATE_PER_MIN) {
        cx.error(
            from.conn,
            ErrorCode::Invalid,
            format!("at most {MAX_USER_RATE_PER_MIN} messages per viewer per minute"),
        );
        return;
    }
    let s = &mut rules.settings;
    if let Some(slow) = slow_mode_s {
        if slow > MAX_SLOW_MODE_S {
            cx.error(
                from.conn,
                ErrorCode::Invalid,
                format!("slow mode at most {MAX_SLOW_MODE_S} s"),
            );
            return;
        }
        s.slow_mode_s = slow;
    }
    if let Some(m) = mods_only {
        s.mods_only = m;
    }
    if let Some(b) = blocked_mode {
        s.blocked_mode = b;
    }
    if let Some(r) = user_rate_per_min {
        s.user_rate_per_min = r;
    }
    if let Some(p) = playback {
        s.playback = p;
    }
    let detail = serde_json::to_string(&*s).unwrap_or_default();
    cx.log(&from.user, "settings", "", detail);
    cx.state_changed();
    cx.emit(EventBody::SettingsChanged {
        settings: rules.settings.clone(),
        by: from.user.id.clone(),
    });
}

/// `close_room` (host only): every connection is closed with the reason.
pub(super) fn close_room(cx: &mut Cx, from: &Sender, msg: CloseRoom) {
    if from.user.role != Role::Host {
        cx.refuse(
            from.conn,
            ErrorCode::Forbidden,
            "only the host may close the room",
        );
        return;
    }
    let reason = if msg.reason.trim().is_empty() {
        "the host closed the room".to_string()
    } else {
        clean_text(&msg.reason).chars().take(200).collect()
    };
    cx.base.closed = true;
    cx.log(&from.user, "close_room", "", reason.clone());
    cx.state_changed();
    cx.emit(EventBody::RoomClosed {
        reason: reason.clone(),
    });
    let all: Vec<_> = cx.base.conns.keys().copied().collect();
    for c in all {
        cx.close(c, ErrorCode::RoomClosed, reason.clone());
    }
}
