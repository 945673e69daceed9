//! Moderators appointed by the host (房管): people, not tokens. The host appoints a user by their
//! id (a viewer from the chat) or mints an invite code (single use, revocable) that makes
//! whoever redeems it a moderator; the host removes them the same way. Appointments live in the
//! durable state, so they survive restarts, and a viewer's role is raised to moderator at every
//! hello while appointed; the user's open connections change role at once. Every change is in
//! the moderation log.

use super::base::{Cx, Sender};
use crate::protocol::{Control, ErrorCode, EventBody, Role, StaffMember, UserRef};
use std::collections::BTreeMap;

/// Appointed moderators and open invites kept at most (bounded durable state).
const MAX_MODERATORS: usize = 200;
const MAX_INVITES: usize = 50;

/// The room's appointed moderators and the invites not yet redeemed.
#[derive(Debug, Default)]
pub(super) struct Staff {
    /// User id → display name at appointment.
    moderators: BTreeMap<String, String>,
    /// Invite code → when it was minted (ms).
    invites: BTreeMap<String, u64>,
}

/// A fresh invite code: 16 bytes from the OS CSPRNG, as hex (unguessable).
fn invite_code() -> Option<String> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).ok()?;
    Some(raw.iter().map(|b| format!("{b:02x}")).collect())
}

impl Staff {
    pub(super) fn restore(
        moderators: BTreeMap<String, String>,
        invites: BTreeMap<String, u64>,
    ) -> Self {
        Staff {
            moderators,
            invites,
        }
    }

    pub(super) fn moderators(&self) -> &BTreeMap<String, String> {
        &self.moderators
    }

    pub(super) fn invites(&self) -> &BTreeMap<String, u64> {
        &self.invites
    }

    /// The role a user has in this room: a viewer the host appointed is a moderator.
    pub(super) fn role_of(&self, user: &UserRef) -> Role {
        if user.role == Role::Viewer && self.moderators.contains_key(&user.id) {
            Role::Moderator
        } else {
            user.role
        }
    }

    /// The user is the host or a moderator: appointed, or connected with either role. A
    /// moderator may not mute or ban them (only the host may).
    pub(super) fn is_staff(&self, base: &super::base::Base, user: &str) -> bool {
        self.moderators.contains_key(user)
            || base
                .conns_of(user)
                .iter()
                .filter_map(|c| base.user_of(*c))
                .any(|u| u.role.can_moderate())
    }

    /// The list the host manages, to the host who asked (or changed it).
    fn listing(&self) -> Control {
        Control::Staff {
            moderators: self
                .moderators
                .iter()
                .map(|(id, name)| StaffMember {
                    id: id.clone(),
                    name: name.clone(),
                })
                .collect(),
            invites: self.invites.keys().cloned().collect(),
        }
    }

    /// `staff`: the moderators and open invites, to the host.
    pub(super) fn list(&self, cx: &mut Cx, from: &Sender) {
        cx.send(from.conn, self.listing());
    }

    /// `appoint`: make a user a moderator.
    pub(super) fn appoint(&mut self, cx: &mut Cx, from: &Sender, user: &str) {
        let user = user.trim();
        if user.is_empty() || user == from.user.id {
            cx.error(
                from.conn,
                ErrorCode::Invalid,
                "appoint: a user id, not yourself",
            );
            return;
        }
        let name = cx.base.name_of(user).unwrap_or_else(|| user.to_string());
        self.add(cx, from, user, name, "");
    }

    fn add(&mut self, cx: &mut Cx, from: &Sender, user: &str, name: String, how: &str) {
        if !self.moderators.contains_key(user) && self.moderators.len() >= MAX_MODERATORS {
            cx.error(
                from.conn,
                ErrorCode::Invalid,
                format!("at most {MAX_MODERATORS} appointed moderators"),
            );
            return;
        }
        self.moderators.insert(user.to_string(), name.clone());
        cx.log(&from.user, "appoint", user, how.to_string());
        cx.state_changed();
        cx.base.set_role(user, Role::Viewer, Role::Moderator);
        cx.emit(EventBody::ModeratorAppointed {
            user: UserRef {
                id: user.to_string(),
                name,
                role: Role::Moderator,
            },
            by: from.user.id.clone(),
        });
        self.tell_hosts(cx);
    }

    /// `unappoint`: a moderator the host appointed is a viewer again.
    pub(super) fn unappoint(&mut self, cx: &mut Cx, from: &Sender, user: &str) {
        if self.moderators.remove(user).is_none() {
            cx.error(
                from.conn,
                ErrorCode::NotFound,
                format!("{user} is not an appointed moderator"),
            );
            return;
        }
        cx.log(&from.user, "unappoint", user, String::new());
        cx.state_changed();
        cx.base.set_role(user, Role::Moderator, Role::Viewer);
        cx.emit(EventBody::ModeratorRemoved {
            user: user.to_string(),
            by: from.user.id.clone(),
        });
        self.tell_hosts(cx);
    }

    /// `mod_invite`: a new invite code, to the host (who puts it in a link).
    pub(super) fn invite(&mut self, cx: &mut Cx, from: &Sender) {
        if self.invites.len() >= MAX_INVITES {
            cx.error(
                from.conn,
                ErrorCode::Invalid,
                format!("at most {MAX_INVITES} open invites: revoke some"),
            );
            return;
        }
        let Some(code) = invite_code() else {
            cx.error(
                from.conn,
                ErrorCode::Busy,
                "the system's random number source failed; try again",
            );
            return;
        };
        self.invites.insert(code.clone(), cx.now);
        // The log names an invite by its first characters: the code itself is a secret.
        cx.log(&from.user, "mod_invite", "", code[..8].to_string());
        cx.state_changed();
        cx.send(from.conn, Control::ModInvite { code });
        self.tell_hosts(cx);
    }

    /// `mod_invite_revoke`: the code no longer works.
    pub(super) fn revoke(&mut self, cx: &mut Cx, from: &Sender, code: &str) {
        if self.invites.remove(code).is_none() {
            cx.error(from.conn, ErrorCode::NotFound, "no such invite");
            return;
        }
        cx.log(
            &from.user,
            "mod_invite_revoke",
            "",
            code.chars().take(8).collect(),
        );
        cx.state_changed();
        self.tell_hosts(cx);
    }

    /// `mod_invite_redeem`: a joined viewer opened an invite link; the code is used up.
    pub(super) fn redeem(&mut self, cx: &mut Cx, from: &Sender, code: &str) {
        if self.invites.remove(code).is_none() {
            cx.error(
                from.conn,
                ErrorCode::NotFound,
                "this moderator invite was revoked or already used",
            );
            return;
        }
        if from.user.role != Role::Viewer {
            // Already a moderator or the host: the code is spent all the same.
            cx.state_changed();
            self.tell_hosts(cx);
            return;
        }
        let detail = format!("invite {}", &code[..code.len().min(8)]);
        self.add(cx, from, &from.user.id, from.user.name.clone(), &detail);
    }

    /// After a change: the new list to every host connection.
    fn tell_hosts(&self, cx: &mut Cx) {
        for conn in cx.base.conns_with_role(Role::Host) {
            cx.send(conn, self.listing());
        }
    }
}
