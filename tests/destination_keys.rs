//! A stream key pasted into a server field moves into the real OS keychain (gnome-keyring over
//! a private D-Bus session) before anything is saved: the destination then refers to it by
//! name, the same key keeps its name, and another key for the same site gets a name of its own;
//! an SRT address's stream id and passphrase move the same way.

use marquee_e2e::Keychain;
use marquee_show::destination::{from_form, key_into_keychain};

#[test]
fn a_pasted_key_moves_into_the_keychain_under_the_sites_name() {
    let kc = Keychain::start();
    for (k, v) in kc.env() {
        // SAFETY: the only test in this binary; it sets the bus address before anything in
        // the process reads the environment.
        unsafe { std::env::set_var(k, v) };
    }
    let keychain = marquee_profile::Keychain::new("marquee-e2e-destinations");

    let pasted = from_form("rtmp://live.twitch.tv/app/live_1234_abcdef", None).unwrap();
    let moved = key_into_keychain(pasted.clone(), &keychain).unwrap();
    assert_eq!(moved.keychain_name(), Some("twitch"));
    assert_eq!(
        moved.reference().as_deref(),
        Some("rtmp://live.twitch.tv/app/key:twitch")
    );
    assert_eq!(keychain.get("twitch").unwrap(), "live_1234_abcdef");

    // Saved again (the page still holds the pasted URL): the same entry, no copy.
    let again = key_into_keychain(pasted, &keychain).unwrap();
    assert_eq!(again.keychain_name(), Some("twitch"));

    // A second Twitch account: its own name, the first key untouched.
    let other = from_form("rtmp://live.twitch.tv/app/live_9999_zzz", None).unwrap();
    let other = key_into_keychain(other, &keychain).unwrap();
    assert_eq!(other.keychain_name(), Some("twitch-2"));
    assert_eq!(keychain.get("twitch").unwrap(), "live_1234_abcdef");

    // bilibili's query-string key keeps every character.
    let bili = "?streamname=live_1_2&key=abc123&schedule=rtmp&pflag=1";
    let pasted = from_form(
        &format!("rtmp://live-push.bilivideo.com/live-bvc/{bili}"),
        None,
    )
    .unwrap();
    let moved = key_into_keychain(pasted, &keychain).unwrap();
    assert_eq!(moved.keychain_name(), Some("bilivideo"));
    assert_eq!(keychain.get("bilivideo").unwrap(), bili);
    assert_eq!(
        moved.with_key(Some(bili)),
        format!("rtmp://live-push.bilivideo.com:1935/live-bvc/{bili}")
    );

    // An SRT address with its stream id and passphrase: both go into one entry, the
    // latency stays with the server, and connecting reads them back.
    let pasted = from_form(
        "srt://ingest.example.net:9000?streamid=live/show&passphrase=s3cret-pass-9&latency=250",
        None,
    )
    .unwrap();
    let moved = key_into_keychain(pasted, &keychain).unwrap();
    assert_eq!(moved.keychain_name(), Some("example"));
    assert_eq!(
        moved.reference().as_deref(),
        Some("srt://ingest.example.net:9000?latency=250&key:example")
    );
    assert_eq!(
        keychain.get("example").unwrap(),
        "streamid=live/show&passphrase=s3cret-pass-9"
    );
    let read = |name: &str| keychain.get(name).map_err(|e| e.to_string());
    assert_eq!(
        moved.connect_url(&read).unwrap(),
        "srt://ingest.example.net:9000?mode=caller&latency=250000&streamid=live/show&passphrase=s3cret-pass-9"
    );
}
