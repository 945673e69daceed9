//! The guest page, served at `/join/{token}`, and its files at `/join/assets/{file}`
//! (built in: the page works wherever the host is, with no files beside the binary).

pub const JOIN_HTML: &str = include_str!("../assets/join.html");

/// A file of the page by name, with its content type.
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "join.js" => (
            include_str!("../assets/join.js"),
            "text/javascript; charset=utf-8",
        ),
        "join-logic.js" => (
            include_str!("../assets/join-logic.js"),
            "text/javascript; charset=utf-8",
        ),
        "join.css" => (
            include_str!("../assets/join.css"),
            "text/css; charset=utf-8",
        ),
        _ => return None,
    })
}
