//! The lottery: a moderator starts one with a keyword and a prize; a viewer enters by saying the
//! keyword in a danmaku (once); the draw shuffles the sorted entrants with a seed the room chose
//! at the start. Commit–reveal: the start publishes only SHA-256 of the seed (the commitment),
//! so nobody can work out before the draw which identity would win; the draw reveals the seed,
//! and anyone can check that it is the one committed to and that it gives these winners
//! ([`verify_draw`]).

use super::base::{Cx, Sender, clean_text};
use super::io::Write;
use super::state::LotteryRec;
use crate::filter::normalise;
use crate::protocol::{Control, ErrorCode, EventBody, LotteryInfo, Role, UserRef};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

const MAX_LOTTERIES_KEPT: usize = 20;

/// `lottery_start`.
#[derive(Debug)]
pub(super) struct LotteryStart {
    pub(super) keyword: String,
    pub(super) prize: String,
}

/// `lottery_draw`.
#[derive(Debug)]
pub(super) struct LotteryDraw {
    pub(super) lottery: u64,
    pub(super) winners: u32,
}

#[derive(Debug)]
struct Lottery {
    rec: LotteryRec,
    /// User id → display name.
    entrants: HashMap<String, String>,
}

impl Lottery {
    /// What everyone may know: the commitment always, the seed once drawn.
    fn info(&self) -> LotteryInfo {
        LotteryInfo {
            lottery: self.rec.lottery,
            keyword: self.rec.keyword.clone(),
            prize: self.rec.prize.clone(),
            commitment: commitment(&self.rec.seed),
            seed: (!self.rec.open).then(|| self.rec.seed.clone()),
            entrants: self.entrants.len() as u64,
            open: self.rec.open,
            winners: self.rec.winners.clone(),
            winner_names: self
                .rec
                .winners
                .iter()
                .map(|w| self.entrants.get(w).cloned().unwrap_or_else(|| w.clone()))
                .collect(),
        }
    }
}

/// The room's recent lotteries (at most one open).
#[derive(Debug, Default)]
pub(super) struct Lotteries {
    list: Vec<Lottery>,
    /// Someone entered since the last `lottery_count`.
    entered: bool,
}

/// Reproducible lottery draw: shuffle the sorted entrants with the published seed.
///
/// For `i` in `0..min(n, len)`: `h = SHA-256("{seed}:{i}")`, `r` = the first 8 bytes of `h` as a
/// big-endian u64, `j = i + r % (len - i)`, swap entries `i` and `j`. The winners are the first
/// `min(n, len)` entries.
pub fn draw_winners(seed: &str, entrants: &[String], n: usize) -> Vec<String> {
    let mut v: Vec<String> = entrants.to_vec();
    v.sort();
    let k = n.min(v.len());
    for i in 0..k {
        let h = Sha256::digest(format!("{seed}:{i}").as_bytes());
        let mut b = [0u8; 8];
        b.copy_from_slice(&h[..8]);
        let r = u64::from_be_bytes(b);
        let j = i + (r % (v.len() - i) as u64) as usize;
        v.swap(i, j);
    }
    v.truncate(k);
    v
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the start of a lottery publishes: SHA-256 of the seed (the seed's text, UTF-8), as hex.
pub fn commitment(seed: &str) -> String {
    hex(&Sha256::digest(seed.as_bytes()))
}

/// Why a published draw does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrawMismatch {
    #[error("SHA-256 of the revealed seed is not the commitment published at the start")]
    NotCommitted,
    #[error("the seed and the entrants give other winners")]
    OtherWinners,
}

/// Check a published draw: the revealed `seed` is the one `commitment` (published at the start)
/// committed to, and shuffling `entrants` with it gives `winners`, in order.
pub fn verify_draw(
    commitment_hex: &str,
    seed: &str,
    entrants: &[String],
    winners: &[String],
) -> Result<(), DrawMismatch> {
    if !commitment(seed).eq_ignore_ascii_case(commitment_hex) {
        return Err(DrawMismatch::NotCommitted);
    }
    // The first k places of the shuffle are settled after k steps, so k = winners.len() (the
    // smaller of the winners asked for and the entrants) reproduces the draw exactly.
    if draw_winners(seed, entrants, winners.len()) != winners {
        return Err(DrawMismatch::OtherWinners);
    }
    Ok(())
}

/// A lottery seed nobody can guess: 32 bytes from the operating system's CSPRNG, as hex. The
/// room's own random numbers (viewer ids, epochs) are not unpredictable enough for this.
fn secret_seed() -> Option<String> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).ok()?;
    Some(hex(&raw))
}

impl Lotteries {
    /// From the saved records and `(lottery, user, name)` entries.
    pub(super) fn restore(recs: Vec<LotteryRec>, entrants: Vec<(u64, String, String)>) -> Self {
        let mut list: Vec<Lottery> = recs
            .into_iter()
            .map(|rec| Lottery {
                rec,
                entrants: HashMap::new(),
            })
            .collect();
        for (lottery, user, name) in entrants {
            if let Some(l) = list.iter_mut().find(|l| l.rec.lottery == lottery) {
                l.entrants.insert(user, name);
            }
        }
        Lotteries {
            list,
            entered: false,
        }
    }

    pub(super) fn records(&self) -> Vec<LotteryRec> {
        self.list.iter().map(|l| l.rec.clone()).collect()
    }

    /// The latest lottery, open or drawn (for a joiner's view).
    pub(super) fn latest(&self) -> Option<LotteryInfo> {
        self.list.last().map(Lottery::info)
    }

    pub(super) fn start(&mut self, cx: &mut Cx, from: &Sender, msg: LotteryStart) {
        let keyword = clean_text(&msg.keyword);
        let prize = clean_text(&msg.prize);
        let kc = normalise(&keyword).0.chars().count();
        if kc == 0 || keyword.chars().count() > 20 || prize.is_empty() || prize.chars().count() > 60
        {
            cx.error(
                from.conn,
                ErrorCode::Invalid,
                "lottery: keyword 1-20 chars (letters or digits), prize 1-60 chars",
            );
            return;
        }
        if self.list.iter().any(|l| l.rec.open) {
            cx.error(from.conn, ErrorCode::Invalid, "a lottery is already open");
            return;
        }
        let Some(seed) = secret_seed() else {
            cx.error(
                from.conn,
                ErrorCode::Busy,
                "lottery: the system's random number source failed; try again",
            );
            return;
        };
        let id = cx.next_id();
        self.list.push(Lottery {
            rec: LotteryRec {
                lottery: id,
                keyword,
                prize,
                seed,
                open: true,
                winners: Vec::new(),
            },
            entrants: HashMap::new(),
        });
        if self.list.len() > MAX_LOTTERIES_KEPT {
            self.list.remove(0);
        }
        cx.log(&from.user, "lottery_start", &id.to_string(), String::new());
        cx.state_changed();
        if let Some(lottery) = self.latest() {
            cx.emit(EventBody::LotteryStarted { lottery });
        }
    }

    pub(super) fn draw(&mut self, cx: &mut Cx, from: &Sender, msg: LotteryDraw) {
        let LotteryDraw { lottery, winners } = msg;
        let Some(l) = self
            .list
            .iter_mut()
            .find(|l| l.rec.lottery == lottery && l.rec.open)
        else {
            cx.error(
                from.conn,
                ErrorCode::NotFound,
                format!("no open lottery {lottery}"),
            );
            return;
        };
        if winners == 0 || winners > 100 {
            cx.error(from.conn, ErrorCode::Invalid, "1 to 100 winners");
            return;
        }
        let mut entrants: Vec<String> = l.entrants.keys().cloned().collect();
        entrants.sort();
        l.rec.winners = draw_winners(&l.rec.seed, &entrants, winners as usize);
        l.rec.open = false;
        let info = l.info();
        let detail = info.winners.join(",");
        cx.log(&from.user, "lottery_draw", &lottery.to_string(), detail);
        cx.state_changed();
        cx.emit(EventBody::LotteryDrawn {
            lottery: info,
            entrants,
        });
    }

    /// A danmaku that holds the open lottery's keyword (normalised, anywhere) enters its
    /// speaker, once; the host never enters.
    pub(super) fn enter(&mut self, cx: &mut Cx, user: &UserRef, text: &str) {
        if user.role == Role::Host {
            return;
        }
        let max = cx.cfg().max_lottery_entrants;
        let Some(l) = self.list.iter_mut().find(|l| l.rec.open) else {
            return;
        };
        if l.entrants.len() >= max || l.entrants.contains_key(&user.id) {
            return;
        }
        if !normalise(text).0.contains(&normalise(&l.rec.keyword).0) {
            return;
        }
        l.entrants.insert(user.id.clone(), user.name.clone());
        cx.persist(Write::LotteryEntry {
            lottery: l.rec.lottery,
            user: user.id.clone(),
            name: user.name.clone(),
        });
        self.entered = true;
    }

    /// Someone entered since the last [`Lotteries::broadcast_count`].
    pub(super) fn count_changed(&self) -> bool {
        self.entered
    }

    /// The open lottery's entrant count, if it changed (at most once per state tick).
    pub(super) fn broadcast_count(&mut self, cx: &mut Cx) {
        if !std::mem::take(&mut self.entered) {
            return;
        }
        if let Some(l) = self.list.iter().find(|l| l.rec.open) {
            cx.broadcast(Control::LotteryCount {
                lottery: l.rec.lottery,
                entrants: l.entrants.len() as u64,
            });
        }
    }
}
