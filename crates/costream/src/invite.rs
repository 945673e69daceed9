//! Invites: one unguessable token per guest slot, with a life, revocable, single-use per slot.
//! Sans-IO: every call takes the time (any monotonic clock as a `Duration`), so expiry is
//! tested without waiting.

use std::collections::HashMap;
use std::time::Duration;

/// How long an invite lasts unless the host says otherwise.
pub const DEFAULT_LIFE: Duration = Duration::from_secs(2 * 3600);

/// Why an invite cannot be used; each maps to one error code of docs/costream.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    #[error("no such invite: ask the host for a new link")]
    Unknown,
    #[error("this invite has expired: ask the host for a new link")]
    Expired,
    #[error("the host revoked this invite")]
    Revoked,
    #[error("another guest is already on this invite's slot")]
    SlotBusy,
}

impl InviteError {
    /// The code in the JSON error (docs/costream.md).
    pub fn code(self) -> &'static str {
        match self {
            Self::Unknown => "invite_unknown",
            Self::Expired => "invite_expired",
            Self::Revoked => "invite_revoked",
            Self::SlotBusy => "slot_busy",
        }
    }
}

/// One invite as the host sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub token: String,
    /// The guest slot it opens (1-based: `guest1` …).
    pub slot: u32,
    /// When it stops admitting anyone new.
    pub expires: Duration,
    pub revoked: bool,
    /// The session on it now, if a guest is connected.
    pub session: Option<u64>,
}

/// Every invite of one show.
#[derive(Debug, Default)]
pub struct Invites {
    by_token: HashMap<String, Invite>,
}

/// A new token: 128 random bits, base64url without padding (22 characters).
pub fn new_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    // The OS generator failing is unrecoverable: an invite must never be guessable.
    getrandom::fill(&mut bytes).expect("the OS random number generator");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens are exactly what [`new_token`] makes; anything else is refused before a lookup.
pub fn valid_token(token: &str) -> bool {
    marquee_guestdoor::valid_token(token)
}

impl Invites {
    /// A new invite for `slot`, valid for `life` from `now`. Earlier invites of the slot
    /// stay valid until they expire or are revoked (the host may have sent the link twice).
    pub fn create(&mut self, slot: u32, now: Duration, life: Duration) -> Invite {
        let invite = Invite {
            token: new_token(),
            slot,
            expires: now + life,
            revoked: false,
            session: None,
        };
        self.by_token.insert(invite.token.clone(), invite.clone());
        invite
    }

    /// The invite, if it can be used now.
    pub fn check(&self, token: &str, now: Duration) -> Result<&Invite, InviteError> {
        let invite = self.by_token.get(token).ok_or(InviteError::Unknown)?;
        if invite.revoked {
            Err(InviteError::Revoked)
        } else if now >= invite.expires {
            Err(InviteError::Expired)
        } else {
            Ok(invite)
        }
    }

    /// Puts `session` on the invite's slot. A slot holds one session at a time: while
    /// another session of any invite of the slot is connected, the claim is refused. The same
    /// guest reconnecting first leaves (its old session is released), then claims again.
    pub fn claim(&mut self, token: &str, session: u64, now: Duration) -> Result<u32, InviteError> {
        let slot = self.check(token, now)?.slot;
        if self
            .by_token
            .values()
            .any(|i| i.slot == slot && i.session.is_some_and(|s| s != session))
        {
            return Err(InviteError::SlotBusy);
        }
        let invite = self.by_token.get_mut(token).ok_or(InviteError::Unknown)?;
        invite.session = Some(session);
        Ok(slot)
    }

    /// The session left (or was dropped): its slot is free again.
    pub fn release(&mut self, session: u64) {
        for i in self.by_token.values_mut() {
            if i.session == Some(session) {
                i.session = None;
            }
        }
    }

    /// Revokes the invite; returns the session to drop at once, if one is on it.
    pub fn revoke(&mut self, token: &str) -> Option<u64> {
        let invite = self.by_token.get_mut(token)?;
        invite.revoked = true;
        invite.session.take()
    }

    /// Every invite, for the host's list.
    pub fn iter(&self) -> impl Iterator<Item = &Invite> {
        self.by_token.values()
    }

    /// Forgets invites that expired more than `keep` ago, so the table stays bounded
    /// (an expired invite is still reported as expired for a while, not as unknown).
    pub fn sweep(&mut self, now: Duration, keep: Duration) {
        self.by_token
            .retain(|_, i| i.session.is_some() || now < i.expires + keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn tokens_are_unguessable_and_well_formed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(valid_token(&a), "{a}");
        assert!(!valid_token("short"));
        assert!(!valid_token(&format!("{}/", &a[..21])));
    }

    #[test]
    fn an_invite_expires_at_the_end_of_its_life() {
        let mut inv = Invites::default();
        let i = inv.create(1, Duration::ZERO, 10 * S);
        assert_eq!(inv.check(&i.token, 9 * S).map(|i| i.slot), Ok(1));
        assert_eq!(inv.check(&i.token, 10 * S), Err(InviteError::Expired));
        assert_eq!(inv.check("nope", S), Err(InviteError::Unknown));
    }

    #[test]
    fn one_guest_per_slot_and_the_same_session_may_claim_again() {
        let mut inv = Invites::default();
        let i = inv.create(1, Duration::ZERO, DEFAULT_LIFE);
        let j = inv.create(1, Duration::ZERO, DEFAULT_LIFE);
        assert_eq!(inv.claim(&i.token, 7, S), Ok(1));
        assert_eq!(inv.claim(&i.token, 7, S), Ok(1));
        assert_eq!(inv.claim(&i.token, 8, S), Err(InviteError::SlotBusy));
        assert_eq!(inv.claim(&j.token, 8, S), Err(InviteError::SlotBusy));
        inv.release(7);
        assert_eq!(inv.claim(&j.token, 8, S), Ok(1));
    }

    #[test]
    fn revoking_drops_the_guest_on_it_and_refuses_new_claims() {
        let mut inv = Invites::default();
        let i = inv.create(2, Duration::ZERO, DEFAULT_LIFE);
        inv.claim(&i.token, 3, S).unwrap();
        assert_eq!(inv.revoke(&i.token), Some(3));
        assert_eq!(inv.claim(&i.token, 4, S), Err(InviteError::Revoked));
    }

    #[test]
    fn sweeping_keeps_recent_and_connected_invites() {
        let mut inv = Invites::default();
        let old = inv.create(1, Duration::ZERO, S);
        let on = inv.create(2, Duration::ZERO, S);
        inv.claim(&on.token, 1, Duration::ZERO).unwrap();
        inv.sweep(5 * S, 10 * S);
        assert_eq!(inv.check(&old.token, 5 * S), Err(InviteError::Expired));
        inv.sweep(20 * S, 10 * S);
        assert_eq!(inv.check(&old.token, 20 * S), Err(InviteError::Unknown));
        assert!(inv.iter().any(|i| i.token == on.token));
    }
}
