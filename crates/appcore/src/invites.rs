//! The invite link of each guest slot of the show on air: made the first time the slot is
//! shown (and again when its life is over), replaced by "new link", which revokes the old.

use crate::error::{AppError, ErrorCode};
use crate::ipc::{GuestInfo, GuestLayout, GuestLink, GuestView, GuestsView};
use marquee_costream::host::{CoHost, JoinError};
use marquee_costream::invite::Invite;
use marquee_show::Show;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The current invite of each slot of the show on air.
#[derive(Default)]
pub struct Invites(Mutex<BTreeMap<u32, Invite>>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A co-stream join error as the page sees it.
pub fn guest_error(e: JoinError) -> AppError {
    AppError::new(ErrorCode::Guest, e.to_string())
}

/// The show's co-stream host, or why it takes no guests.
pub fn host(show: &Show) -> Result<&Arc<CoHost>, AppError> {
    show.cohost().ok_or_else(|| {
        AppError::new(
            ErrorCode::Guest,
            "this show takes no guests: set guest slots in Settings → Co-stream, then go live",
        )
    })
}

impl Invites {
    /// Forgets the links of the previous show.
    pub fn clear(&self) {
        lock(&self.0).clear();
    }

    /// The panel: slots, layout, each slot's link (an invite made the first time a slot is
    /// shown, and again when its life is over) and the guests connected or waiting.
    pub fn view(&self, show: &Show) -> GuestsView {
        let Some(host) = show.cohost() else {
            return GuestsView {
                slots: 0,
                layout: None,
                view: GuestView::Program,
                links: Vec::new(),
                guests: Vec::new(),
            };
        };
        let mut invites = lock(&self.0);
        let links = (1..=host.slots())
            .filter_map(|slot| {
                let usable = invites
                    .get(&slot)
                    .is_some_and(|i| host.check(&i.token).is_ok());
                if !usable {
                    invites.insert(slot, host.invite(slot).ok()?);
                }
                invites.get(&slot).map(|i| link_of(host, i))
            })
            .collect();
        GuestsView {
            slots: host.slots(),
            layout: show.guest_layout().map(GuestLayout::from),
            view: show.guest_view().into(),
            links,
            guests: host.guests().iter().map(GuestInfo::from).collect(),
        }
    }

    /// A new link for `slot`: the old one is revoked (a guest on it is dropped).
    pub fn renew(&self, show: &Show, slot: u32) -> Result<GuestLink, AppError> {
        let host = host(show)?;
        let invite = host.invite(slot).map_err(guest_error)?;
        if let Some(old) = lock(&self.0).insert(slot, invite.clone()) {
            host.revoke(&old.token);
        }
        Ok(link_of(host, &invite))
    }
}

fn link_of(host: &CoHost, i: &Invite) -> GuestLink {
    GuestLink {
        slot: i.slot,
        link: host.link(i),
        expires_in_s: host.expires_in(i).as_secs(),
    }
}
