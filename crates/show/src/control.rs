//! Requests to a running show over the local control channel (`marquee scene`, `marquee
//! overlay`, `marquee director`, `marquee clip save|mark`, `marquee guest …`): one text line in,
//! JSON out.

use crate::show::Show;
use std::sync::Weak;

/// The handler for [`marquee_highlights::control::ControlServer`]: scenes, overlays, comments
/// and director mode here, `save`/`mark`/`status`/`ping` by the highlights.
pub fn handler(show: Weak<Show>) -> marquee_highlights::control::Handler {
    std::sync::Arc::new(move |line: &str| {
        let show = show.upgrade().ok_or("the show has ended")?;
        handle(&show, line)
    })
}

/// Answers one request line.
pub fn handle(show: &Show, line: &str) -> Result<String, String> {
    let (cmd, rest) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
    let rest = rest.trim();
    let err = |e: crate::error::ShowError| e.to_string();
    match cmd {
        "scene" => {
            let mut words = rest.split_whitespace();
            let name = words
                .next()
                .ok_or("say which scene: scene NAME [cut|fade[:MS]|slide[:MS]]")?;
            let transition = words.next().unwrap_or("cut");
            show.switch(name, transition).map_err(err)?;
            let t: marquee_scene::Transition = transition.parse().map_err(|_| "transition")?;
            Ok(serde_json::json!({ "scene": name, "transition": t.to_string() }).to_string())
        }
        "overlay" => {
            let (id, on) = match rest.split_whitespace().collect::<Vec<_>>()[..] {
                [id, "on"] => (id, true),
                [id, "off"] => (id, false),
                _ => return Err("say which overlay and on or off: overlay ID on|off".into()),
            };
            show.set_overlay(id, on).map_err(err)?;
            Ok(serde_json::json!({ "overlay": id, "on": on }).to_string())
        }
        "comment" if !rest.is_empty() => {
            show.comment(rest).map_err(err)?;
            Ok(serde_json::json!({ "comment": rest }).to_string())
        }
        "director" => {
            let on = match rest {
                "on" => true,
                "off" => false,
                _ => return Err("director on|off".into()),
            };
            show.set_director(on).map_err(err)?;
            Ok(serde_json::json!({ "director": on }).to_string())
        }
        "guests" | "guest" => guests(show, cmd, rest),
        "scenes" => Ok(serde_json::json!({
            "on_air": show.on_air(),
            "director": show.director().unwrap_or(false),
            "scenes": show.scenes(),
        })
        .to_string()),
        _ => match show.highlights() {
            Ok(h) => h.handle(line),
            Err(e) => Err(format!(
                "unknown request {cmd:?} ({e}; scene and scenes work)"
            )),
        },
    }
}

/// The control requests for guests: `guests` (the list), `guest invite [SLOT]`,
/// `guest admit|decline|remove SESSION`, `guest mute SESSION on|off`, `guest layout
/// auto|grid|pip`, `guest view program|camera`, `guest revoke TOKEN`.
fn guests(show: &Show, cmd: &str, rest: &str) -> Result<String, String> {
    let host = show
        .cohost()
        .ok_or("this show has no guest slots (marquee live --guests N)")?;
    if cmd == "guests" {
        return serde_json::to_string(&host.guests()).map_err(|e| e.to_string());
    }
    let words: Vec<&str> = rest.split_whitespace().collect();
    let session = |w: Option<&&str>| -> Result<u64, String> {
        w.and_then(|s| s.parse().ok())
            .ok_or_else(|| "say which guest: its session number from `marquee guest list`".into())
    };
    let e = |e: marquee_costream::host::JoinError| e.to_string();
    let done = |what: &str, s: u64| Ok(serde_json::json!({ what: s }).to_string());
    match words.first().copied() {
        Some("invite") => {
            let slot = match words.get(1) {
                Some(w) => w.parse().map_err(|_| format!("{w:?} is not a slot number"))?,
                None => 1,
            };
            let invite = host.invite(slot).map_err(e)?;
            Ok(serde_json::json!({
                "slot": slot,
                "token": invite.token,
                "link": host.link(&invite),
                "expires_in_s": host.expires_in(&invite).as_secs(),
            })
            .to_string())
        }
        Some("admit") => {
            let s = session(words.get(1))?;
            host.admit(s).map_err(e)?;
            done("admitted", s)
        }
        Some("decline") => {
            let s = session(words.get(1))?;
            host.decline(s).map_err(e)?;
            done("declined", s)
        }
        Some("remove") => {
            let s = session(words.get(1))?;
            host.remove(s).map_err(e)?;
            done("removed", s)
        }
        Some("mute") => {
            let s = session(words.get(1))?;
            let on = match words.get(2).copied() {
                Some("on") | None => true,
                Some("off") => false,
                Some(w) => return Err(format!("mute on|off, not {w:?}")),
            };
            host.mute(s, on).map_err(e)?;
            Ok(serde_json::json!({ "session": s, "muted": on }).to_string())
        }
        Some("hide") => {
            let s = session(words.get(1))?;
            let on = !matches!(words.get(2).copied(), Some("off"));
            host.hide(s, on).map_err(e)?;
            Ok(serde_json::json!({ "session": s, "hidden": on }).to_string())
        }
        Some("volume") => {
            let s = session(words.get(1))?;
            let db: f32 = words
                .get(2)
                .and_then(|w| w.parse().ok())
                .ok_or("guest volume SESSION DB (−60 to 12)")?;
            host.set_volume(s, db).map_err(e)?;
            Ok(serde_json::json!({ "session": s, "volume_db": db.clamp(-60.0, 12.0) }).to_string())
        }
        Some("layout") => {
            let layout = match words.get(1) {
                Some(w) => w.parse::<crate::guests::GuestLayout>()?,
                None => return Err("guest layout auto|grid|pip".into()),
            };
            show.set_guest_layout(layout).map_err(|e| e.to_string())?;
            Ok(serde_json::json!({ "layout": layout.as_str() }).to_string())
        }
        Some("view") => {
            let view = match words.get(1) {
                Some(w) => w.parse::<crate::guests::GuestView>()?,
                None => return Err("guest view program|camera".into()),
            };
            show.set_guest_view(view).map_err(|e| e.to_string())?;
            Ok(serde_json::json!({ "view": view.as_str() }).to_string())
        }
        Some("revoke") => {
            let token = words.get(1).ok_or("say which invite: guest revoke TOKEN")?;
            host.revoke(token);
            Ok(serde_json::json!({ "revoked": token }).to_string())
        }
        _ => Err("guest invite [SLOT] | admit|decline|remove SESSION | mute|hide SESSION on|off | volume SESSION DB | layout auto|grid|pip | view program|camera | revoke TOKEN; guests lists them".into()),
    }
}
