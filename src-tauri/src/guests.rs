//! Co-stream guests while live, over the show's co-stream host (`Show::cohost`): the host's
//! actions on them, their thumbnails, and the room's door opened and closed with the show
//! (the invite links are `marquee_appcore::invites`).

use marquee_appcore::error::AppError;
use marquee_appcore::invites::{guest_error, host};
use marquee_costream::host::CoHost;
use marquee_show::Show;
use std::sync::Arc;

/// Lets the show's guests in through the app's room (same origin as the viewer page: the
/// links become `{viewer link}/join/…`), when the show takes guests and the room is up.
/// Called when a show starts, and again when the room (re)starts during a show.
pub async fn open_in_room(state: &crate::state::AppState) {
    let (Ok(show), Some(room)) = (state.live.show(), state.room.get()) else {
        return;
    };
    if let Some(host) = show.cohost() {
        room.open_guests(host).await;
    }
}

/// After the show with `host` has stopped: the room keeps answering until the guests have
/// read that the show ended (at most a few seconds), then refuses them again.
pub async fn close_in_room(state: &crate::state::AppState, host: Option<Arc<CoHost>>) {
    let Some(host) = host else {
        return;
    };
    let _ = tauri::async_runtime::spawn_blocking(move || {
        host.wait_until_guests_told(std::time::Duration::from_secs(3))
    })
    .await;
    if let Some(room) = state.room.get() {
        room.close_guests().await;
    }
}

/// What the host does to a guest.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    Admit,
    Decline,
    Remove,
    Mute(bool),
    Hide(bool),
    Volume(f32),
}

pub fn act(show: &Show, session: u64, action: Action) -> Result<(), AppError> {
    let host = host(show)?;
    match action {
        Action::Admit => host.admit(session),
        Action::Decline => host.decline(session),
        Action::Remove => host.remove(session),
        Action::Mute(on) => host.mute(session, on),
        Action::Hide(on) => host.hide(session, on),
        Action::Volume(db) => host.set_volume(session, db),
    }
    .map_err(guest_error)
}

/// The guest's latest picture, a JPEG 240 pixels wide; empty before their first picture.
pub fn thumbnail(show: &Show, session: u64) -> Result<Vec<u8>, AppError> {
    host(show)?;
    Ok(show.guest_thumbnail(session, 240)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::GuestLayout;
    use marquee_appcore::error::ErrorCode;
    use marquee_appcore::invites::Invites;
    use marquee_show::{Recording, ShowSettings};

    struct Quiet;
    impl marquee_show::Observer for Quiet {
        fn event(&self, _: &marquee_studio::Event) {}
        fn stats(&self, _: &marquee_show::ShowStats) {}
    }

    #[test]
    fn each_slot_keeps_its_link_until_renewed_and_actions_on_no_guest_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let settings = ShowSettings {
            width: 320,
            height: 240,
            bitrate_kbps: 300,
            preset: "ultrafast".into(),
            recording: Recording::Path(dir.path().join("show.mkv")),
            guests: marquee_show::GuestSettings {
                slots: 2,
                green_room: true,
                ..Default::default()
            },
            ..Default::default()
        };
        let keychain = marquee_profile::Keychain::new("marquee-app-test");
        let show = Show::start(&settings, &keychain, Arc::new(Quiet)).unwrap();
        let invites = Invites::default();

        let v = invites.view(&show);
        assert_eq!((v.slots, v.layout), (2, Some(GuestLayout::Auto)));
        assert!(v.guests.is_empty());
        assert_eq!(v.links.len(), 2);
        assert!(
            v.links.iter().all(|l| l.link.is_none()),
            "no routes served yet"
        );

        show.cohost()
            .unwrap()
            .set_base("http://10.1.2.3:7717/room/main");
        let v = invites.view(&show);
        let first = v.links[0].link.clone().unwrap();
        assert!(
            first.starts_with("http://10.1.2.3:7717/room/main/join/"),
            "{first}"
        );
        assert_eq!(
            invites.view(&show).links[0].link.as_ref(),
            Some(&first),
            "kept"
        );

        let renewed = invites.renew(&show, 1).unwrap().link.unwrap();
        assert_ne!(renewed, first);
        let old_token = first.rsplit('/').next().unwrap();
        assert!(
            show.cohost().unwrap().check(old_token).is_err(),
            "the old link is revoked"
        );
        assert_eq!(invites.view(&show).links[0].link, Some(renewed));
        assert_eq!(invites.renew(&show, 3).unwrap_err().code, ErrorCode::Guest);

        let e = act(&show, 999, Action::Admit).unwrap_err();
        assert_eq!(e.code, ErrorCode::Guest);
        show.set_guest_layout(GuestLayout::Pip.engine()).unwrap();
        assert_eq!(invites.view(&show).layout, Some(GuestLayout::Pip));
        drop(show.stop());
    }
}
