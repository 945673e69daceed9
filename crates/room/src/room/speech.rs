//! Speech: danmaku, and the gate every message a viewer says passes (danmaku and questions):
//! mute, mods-only, slow mode, the per-minute rule, the per-user rate, then the blocked words.

use super::base::{Cx, Sender, clean_text};
use super::io::ConnId;
use super::lottery::Lotteries;
use super::moderation::Rules;
use crate::filter::Verdict;
use crate::protocol::{BlockedMode, DanmakuMode, ErrorCode, EventBody, UserRef};

/// `danmaku`: a chat message.
#[derive(Debug)]
pub(super) struct Danmaku {
    pub(super) text: String,
    pub(super) color: Option<String>,
    pub(super) mode: DanmakuMode,
}

fn valid_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|d| d.is_ascii_hexdigit())
}

/// Publish a danmaku; it also enters the open lottery when it holds the keyword.
pub(super) fn danmaku(
    cx: &mut Cx,
    rules: &Rules,
    lotteries: &mut Lotteries,
    from: &Sender,
    msg: Danmaku,
) {
    let conn = from.conn;
    let text = clean_text(&msg.text);
    let n = text.chars().count();
    let max = cx.cfg().max_text_chars;
    if n == 0 || n > max {
        cx.refuse(
            conn,
            ErrorCode::Invalid,
            format!("danmaku must be 1 to {max} characters"),
        );
        return;
    }
    let color = msg.color.unwrap_or_else(|| "#ffffff".to_string());
    if !valid_color(&color) {
        cx.refuse(conn, ErrorCode::Invalid, "color must look like #rrggbb");
        return;
    }
    if !may_speak(cx, rules, conn, &from.user) {
        return;
    }
    let Some((text, masked)) = screen(cx, rules, conn, text) else {
        return;
    };
    if !masked {
        lotteries.enter(cx, &from.user, &text);
    }
    cx.base.stats.danmaku += 1;
    let id = cx.base.last_seq + 1;
    cx.emit(EventBody::Danmaku {
        id,
        user: from.user.clone(),
        text,
        color: color.to_ascii_lowercase(),
        mode: msg.mode,
        masked,
        deleted: false,
    });
}

/// Whether `user` may say something now: mute, mods-only, slow mode, the per-minute rule and
/// the per-user rate (moderators are exempt). Answers the refusal itself.
pub(super) fn may_speak(cx: &mut Cx, rules: &Rules, conn: ConnId, user: &UserRef) -> bool {
    if user.role.can_moderate() {
        return true;
    }
    let now = cx.now;
    if let Some(&until) = rules.timeouts.get(&user.id)
        && until > now
    {
        cx.error(
            conn,
            ErrorCode::Muted,
            format!("you are muted for {} more s", (until - now).div_ceil(1000)),
        );
        return false;
    }
    if rules.settings.mods_only {
        cx.error(conn, ErrorCode::ModsOnly, "only moderators may speak now");
        return false;
    }
    let slow_ms = u64::from(rules.settings.slow_mode_s) * 1000;
    let (rate, burst) = (cx.cfg().user_rate_per_s, cx.cfg().user_burst);
    let Some(us) = cx.base.users.get_mut(&user.id) else {
        return false;
    };
    if let Some(last) = us.last_speak
        && slow_ms > 0
        && now < last + slow_ms
    {
        let wait = (last + slow_ms - now).div_ceil(1000);
        cx.error(
            conn,
            ErrorCode::SlowMode,
            format!("slow mode: wait {wait} s"),
        );
        return false;
    }
    let per_min = rules.settings.user_rate_per_min as usize;
    if per_min > 0 {
        while us.recent.front().is_some_and(|&t| t + 60_000 <= now) {
            us.recent.pop_front();
        }
        while us.recent.len() > per_min {
            us.recent.pop_front(); // the host lowered the limit
        }
        if us.recent.len() == per_min {
            let wait = (us.recent[0] + 60_000 - now).div_ceil(1000);
            cx.error(
                conn,
                ErrorCode::SlowMode,
                format!("{per_min} messages a minute in this room: wait {wait} s"),
            );
            return false;
        }
    }
    if !us.bucket.take(now, rate, burst) {
        cx.refuse(conn, ErrorCode::RateLimited, "you are sending too fast");
        return false;
    }
    us.last_speak = Some(now);
    us.seen = now;
    if per_min > 0 {
        us.recent.push_back(now);
    } else {
        us.recent.clear();
    }
    true
}

/// The blocked-word policy: the text to publish and whether it was masked, or `None` if it was
/// rejected (and answered).
pub(super) fn screen(
    cx: &mut Cx,
    rules: &Rules,
    conn: ConnId,
    text: String,
) -> Option<(String, bool)> {
    match rules.filter.check(&text) {
        Verdict::Clean => Some((text, false)),
        Verdict::Matched { masked } => match rules.settings.blocked_mode {
            BlockedMode::Mask => Some((masked, true)),
            BlockedMode::Reject => {
                cx.error(
                    conn,
                    ErrorCode::BlockedWord,
                    "the message contains a blocked word",
                );
                None
            }
        },
    }
}
