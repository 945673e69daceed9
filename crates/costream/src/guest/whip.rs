//! The guest's side of WHIP (docs/costream.md): the link, the offer POST, the state poll and
//! the DELETE, with the host's JSON error codes turned into messages.

use super::http::{self, Response, Tls, Url};
use super::relay::GuestTurn;
use super::types::{GuestError, GuestState, StateReport};
use crate::invite::valid_token;

/// A parsed invite link `{base}/join/{token}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The link itself (no query, no trailing slash).
    pub url: Url,
    pub token: String,
}

impl Link {
    pub fn parse(s: &str) -> Result<Link, GuestError> {
        let bad = |why: String| GuestError::BadLink(why);
        let mut url = Url::parse(s).map_err(bad)?;
        let path = url
            .path
            .split('?')
            .next()
            .unwrap_or("")
            .trim_end_matches('/');
        let (_, token) = path
            .rsplit_once("/join/")
            .ok_or_else(|| bad("an invite link looks like http://HOST/join/TOKEN".into()))?;
        if !valid_token(token) {
            return Err(bad(format!(
                "{token:?} is not an invite token (22 letters, digits, - or _): copy the whole link"
            )));
        }
        let token = token.to_string();
        url.path = path.to_string();
        Ok(Link { url, token })
    }

    /// What the host tells its guests before they offer: `{LINK}/info`.
    pub fn info(&self) -> Url {
        self.url.with_path(&format!("{}/info", self.url.path))
    }

    /// Where an offer with the invite as a bearer token goes (OBS's and FFmpeg's WHIP
    /// outputs: a URL and a token): `{base}/whip`, the link without `/join/{token}`.
    pub fn bearer_whip(&self) -> Url {
        let base = (self.url.path)
            .strip_suffix(&format!("/join/{}", self.token))
            .unwrap_or_default();
        self.url.with_path(&format!("{base}/whip"))
    }

    /// Where the offer goes: `{LINK}/whip[?name=NAME]`.
    pub fn whip(&self, name: Option<&str>) -> Url {
        let mut path = format!("{}/whip", self.url.path);
        if let Some(n) = name {
            path.push_str("?name=");
            path.push_str(&marquee_capture::url_escape(n));
        }
        self.url.with_path(&path)
    }
}

/// The host's answer to the offer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub sdp: String,
    /// The session resource (for GET state and DELETE).
    pub location: Url,
}

/// The JSON error body of docs/costream.md.
#[derive(Debug, serde::Deserialize)]
struct ErrorBody {
    code: String,
    #[serde(default)]
    message: String,
}

/// A refusal from the host, from its status and JSON body.
pub fn refusal(r: &Response) -> GuestError {
    let (code, message) = match serde_json::from_slice::<ErrorBody>(&r.body) {
        Ok(b) => (b.code, b.message),
        Err(_) => (
            String::new(),
            String::from_utf8_lossy(&r.body[..r.body.len().min(200)]).into_owned(),
        ),
    };
    GuestError::Refused {
        status: r.status,
        code: code.chars().take(40).collect(),
        message: message.chars().take(300).collect(),
    }
}

fn network(url: &Url) -> impl Fn(String) -> GuestError + '_ {
    move |e| GuestError::Network {
        host: url.authority(),
        reason: e,
    }
}

/// How the offer names its invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer<'a> {
    /// In the link's path (`{LINK}/whip`), with the guest's name.
    Link { name: Option<&'a str> },
    /// As `Authorization: Bearer` on `{base}/whip`, as OBS and FFmpeg send it.
    Bearer,
}

/// POSTs the offer; the host answers 201 with its SDP and the session's Location.
pub fn post_offer(tls: &Tls, link: &Link, how: Offer, offer: &str) -> Result<Answer, GuestError> {
    let (url, bearer) = match how {
        Offer::Link { name } => (link.whip(name), None),
        Offer::Bearer => (link.bearer_whip(), Some(link.token.as_str())),
    };
    let ct = Some("application/sdp");
    let r =
        http::request_as(tls, "POST", &url, ct, bearer, offer.as_bytes()).map_err(network(&url))?;
    if r.status != 201 && r.status != 200 {
        return Err(refusal(&r));
    }
    let bad = |why: &str| GuestError::BadAnswer(why.to_string());
    let ct = r.header("content-type").unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("application/sdp") {
        return Err(bad("the host's answer is not application/sdp"));
    }
    let location = r
        .header("location")
        .ok_or_else(|| bad("the host's answer has no Location"))?;
    let location = url.join(location).map_err(GuestError::BadAnswer)?;
    let sdp = String::from_utf8(r.body).map_err(|_| bad("the SDP answer is not UTF-8"))?;
    Ok(Answer { sdp, location })
}

/// `GET {LINK}/info`: the TURN relays the host names for its guests (`ice_servers`, in the
/// shape of WebRTC's `RTCIceServer`: `urls` a string or a list), those with a credential and a
/// `turn:` or `turns:` URL, in the host's order. The same ones a browser guest is given.
pub fn host_relays(tls: &Tls, link: &Link) -> Result<Vec<GuestTurn>, GuestError> {
    let url = link.info();
    let r = http::request(tls, "GET", &url, None, b"").map_err(network(&url))?;
    if r.status != 200 {
        return Err(refusal(&r));
    }
    let info: serde_json::Value = serde_json::from_slice(&r.body)
        .map_err(|e| GuestError::BadAnswer(format!("the invite's info is not JSON: {e}")))?;
    Ok(relays_in(&info))
}

fn relays_in(info: &serde_json::Value) -> Vec<GuestTurn> {
    let mut out = Vec::new();
    for server in info["ice_servers"].as_array().into_iter().flatten().take(8) {
        let (Some(username), Some(credential)) =
            (server["username"].as_str(), server["credential"].as_str())
        else {
            continue;
        };
        let urls = match &server["urls"] {
            serde_json::Value::String(u) => vec![u.as_str()],
            serde_json::Value::Array(a) => a.iter().filter_map(|u| u.as_str()).take(8).collect(),
            _ => continue,
        };
        for url in urls {
            if crate::ice::IceServer::turn(url, username, credential).is_ok() {
                out.push(GuestTurn {
                    url: url.to_string(),
                    username: username.to_string(),
                    credential: credential.to_string(),
                    relay_only: false,
                });
            }
        }
    }
    out
}

/// `GET {Location}`: the guest's state. A session the host no longer knows is `ended`.
pub fn get_state(tls: &Tls, location: &Url) -> Result<StateReport, GuestError> {
    let r = http::request(tls, "GET", location, None, b"").map_err(network(location))?;
    match r.status {
        200 => serde_json::from_slice(&r.body).map_err(|e| {
            GuestError::BadAnswer(format!("the guest state is not the JSON expected: {e}"))
        }),
        404 => Ok(StateReport {
            state: GuestState::Ended,
            slot: 0,
            muted_by_host: false,
            message: "the host no longer knows this session".into(),
        }),
        _ => Err(refusal(&r)),
    }
}

/// `DELETE {Location}`: the guest leaves and its slot is freed.
pub fn leave(tls: &Tls, location: &Url) -> Result<(), GuestError> {
    let r = http::request(tls, "DELETE", location, None, b"").map_err(network(location))?;
    match r.status {
        200..=299 | 404 => Ok(()),
        _ => Err(refusal(&r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "AAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn the_hosts_relays_are_read_from_its_info_in_either_shape_and_bad_entries_skipped() {
        let info = serde_json::json!({ "slot": 1, "ice_servers": [
            { "urls": ["turn:relay.example.org?transport=tcp", "turns:relay.example.org"],
              "username": "u", "credential": "c" },
            { "urls": "turn:10.0.0.1:3478", "username": "v", "credential": "d" },
            { "urls": ["stun:stun.example.org"] },
            { "urls": ["turn:no-credential.example.org"], "username": "w" },
            { "urls": ["http://not-turn"], "username": "x", "credential": "e" },
            { "urls": 7, "username": "y", "credential": "f" },
        ]});
        let got: Vec<(String, String)> = (relays_in(&info).into_iter())
            .map(|t| (t.url, t.username))
            .collect();
        assert_eq!(
            got,
            [
                ("turn:relay.example.org?transport=tcp", "u"),
                ("turns:relay.example.org", "u"),
                ("turn:10.0.0.1:3478", "v"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert!(relays_in(&serde_json::json!({ "slot": 1 })).is_empty());
        assert!(relays_in(&serde_json::json!("nonsense")).is_empty());
    }

    #[test]
    fn links_name_their_token_and_whip_endpoint() {
        let l = Link::parse(&format!("http://10.0.0.1:9000/room/join/{T}/")).unwrap();
        assert_eq!(l.token, T);
        assert_eq!(l.whip(None).path, format!("/room/join/{T}/whip"));
        assert_eq!(l.info().path, format!("/room/join/{T}/info"));
        assert_eq!(l.bearer_whip().path, "/room/whip");
        assert_eq!(
            l.whip(Some("李 雷&x")).path,
            format!("/room/join/{T}/whip?name=%E6%9D%8E%20%E9%9B%B7%26x")
        );
        assert!(
            Link::parse("http://h/join/short")
                .unwrap_err()
                .to_string()
                .contains("token")
        );
        assert!(Link::parse(&format!("http://h/{T}")).is_err());
    }

    #[test]
    fn error_codes_become_clear_messages() {
        let r = Response {
            status: 410,
            headers: vec![],
            body: br#"{"code":"invite_expired","message":"expired"}"#.to_vec(),
        };
        let e = refusal(&r).to_string();
        assert!(e.contains("expired") && e.contains("new link"), "{e}");
        let r = Response {
            status: 502,
            headers: vec![],
            body: b"<html>bad gateway</html>".to_vec(),
        };
        let e = refusal(&r).to_string();
        assert!(e.contains("502"), "{e}");
    }

    #[test]
    fn states_parse_including_unknown_ones() {
        let s: StateReport = serde_json::from_str(
            r#"{"state":"on_air","slot":2,"muted_by_host":true,"message":""}"#,
        )
        .unwrap();
        assert_eq!(
            (s.state, s.slot, s.muted_by_host),
            (GuestState::OnAir, 2, true)
        );
        let s: StateReport = serde_json::from_str(r#"{"state":"dancing"}"#).unwrap();
        assert_eq!(s.state, GuestState::Unknown);
    }
}
