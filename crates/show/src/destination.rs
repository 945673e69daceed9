//! Destinations as people enter them: a server address and the keychain name of its key (the
//! app's form), or a whole URL with the key in it, whose key is moved into the keychain before
//! anything is written to a file. For SRT the key is the secret parameters together
//! (`streamid=…&passphrase=…`), moved into one keychain entry.

use crate::error::ShowError;
use marquee_profile::Keychain;
use marquee_studio::DestinationUrl;
use marquee_studio::url::{Server, StreamKey, redact};

/// A destination from a form: the server field and the keychain name of its key. Without a
/// name the field must hold the whole URL, key included (kept inline until
/// [`key_into_keychain`] moves it).
pub fn from_form(server: &str, key_name: Option<&str>) -> Result<DestinationUrl, ShowError> {
    match key_name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => {
            let (server_only, pasted) = Server::parse(server)?;
            if pasted.is_some() {
                return Err(ShowError::Settings(format!(
                    "the server address {} has a stream key in it, and the key {name} is chosen too: remove the key from the address",
                    redact(server)
                )));
            }
            Ok(DestinationUrl::new(
                server_only,
                StreamKey::Keychain(name.into()),
            ))
        }
        None => Ok(DestinationUrl::parse(server)?),
    }
}

/// A name for a server's key: the site's name (`live.twitch.tv` → `twitch`,
/// `live-push.bilivideo.com` → `bilivideo`), else the host; `-2`, `-3`… when it is `taken`.
pub fn key_name_for(server: &Server, taken: &[String]) -> String {
    let host = server.host();
    let labels: Vec<&str> = host.split('.').collect();
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    let base: String = match labels.as_slice() {
        [.., site, _tld] if !is_ip && !site.is_empty() => site.to_string(),
        _ => host.to_string(),
    };
    let base: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(56)
        .collect();
    let base = if base.is_empty() {
        "stream".into()
    } else {
        base
    };
    (1..)
        .map(|i| {
            if i == 1 {
                base.clone()
            } else {
                format!("{base}-{i}")
            }
        })
        .find(|n| !taken.contains(n))
        .unwrap_or(base)
}

/// Moves an inline key into the keychain (under [`key_name_for`], or the name already holding
/// that very key) and returns the destination that refers to it; a keychain destination comes
/// back as it is.
pub fn key_into_keychain(
    d: DestinationUrl,
    keychain: &Keychain,
) -> Result<DestinationUrl, ShowError> {
    let StreamKey::Inline(key) = d.key() else {
        return Ok(d);
    };
    // An SRT address with no secret, or only `key:NAME` references, has nothing to move.
    if !d.has_inline_secret() {
        return Ok(d);
    }
    let taken = keychain.list()?;
    let same = taken
        .iter()
        .find(|n| keychain.get(n).is_ok_and(|k| k == *key));
    let name = match same {
        Some(n) => n.clone(),
        None => {
            let name = key_name_for(d.server(), &taken);
            keychain.set(&name, key)?;
            name
        }
    };
    Ok(DestinationUrl::new(
        d.server().clone(),
        StreamKey::Keychain(name),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(s: &str) -> Server {
        Server::parse(s).unwrap().0
    }

    #[test]
    fn a_server_and_a_key_name_make_a_keychain_destination() {
        let d = from_form("rtmp://live.twitch.tv/app", Some("twitch")).unwrap();
        assert_eq!(d.to_string(), "rtmp://live.twitch.tv/app/key:twitch");
        assert_eq!(
            d.reference().as_deref(),
            Some("rtmp://live.twitch.tv/app/key:twitch")
        );
        let bili = from_form("rtmp://live-push.bilivideo.com/live-bvc/", Some("bili")).unwrap();
        assert_eq!(bili.keychain_name(), Some("bili"));
        let inline = from_form("rtmp://127.0.0.1/live/demo", None).unwrap();
        assert_eq!(inline.to_string(), "rtmp://127.0.0.1/live/****");
    }

    #[test]
    fn a_key_in_the_address_and_a_key_name_is_refused_without_showing_the_key() {
        let e = from_form("rtmp://h/live/SECRET", Some("k")).unwrap_err();
        assert!(matches!(e, ShowError::Settings(_)));
        assert!(!e.to_string().contains("SECRET"), "{e}");
        assert!(matches!(
            from_form("http://x/app/k", None),
            Err(ShowError::Settings(_))
        ));
    }

    #[test]
    fn keys_are_named_after_the_site_and_never_clash() {
        let taken = vec!["twitch".to_string()];
        assert_eq!(
            key_name_for(&server("rtmp://live.twitch.tv/app"), &[]),
            "twitch"
        );
        assert_eq!(
            key_name_for(&server("rtmp://live.twitch.tv/app"), &taken),
            "twitch-2"
        );
        assert_eq!(
            key_name_for(&server("rtmp://live-push.bilivideo.com/live-bvc/"), &[]),
            "bilivideo"
        );
        assert_eq!(
            key_name_for(&server("rtmp://127.0.0.1:1935/live"), &[]),
            "127.0.0.1"
        );
        assert_eq!(key_name_for(&server("rtmp://[::1]/live"), &[]), "--1");
    }

    #[test]
    fn an_srt_server_takes_its_secrets_from_one_keychain_entry() {
        let d = from_form("srt://ingest.example.com:9000?latency=200", Some("ingest")).unwrap();
        assert_eq!(
            d.reference().as_deref(),
            Some("srt://ingest.example.com:9000?latency=200&key:ingest")
        );
        let e = from_form("srt://h:9000?passphrase=SECRETSECRET", Some("k")).unwrap_err();
        assert!(!e.to_string().contains("SECRETSECRET"), "{e}");
        let open = from_form("srt://h:9000", None).unwrap();
        assert_eq!(open.reference().as_deref(), Some("srt://h:9000"));
    }
}
