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
        "guests" | "guest" => crate::guests::control(show, cmd, rest),
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
