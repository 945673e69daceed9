//! `marquee room …`: the live room server and its tools (the room itself is crates/room).
//!
//! Each command is a plain blocking function over its clap arguments: [`serve`], [`token`],
//! [`watch`], [`bench`], [`gift_bench`].

mod bench;
mod gift_bench;
mod serve;
mod token;
mod watch;

use marquee_room::RoomError;

#[derive(clap::Subcommand)]
pub enum RoomCmd {
    /// Run a room server (danmaku, gifts, votes, Q&A, lottery, moderation) with its viewer page.
    Serve(Box<serve::ServeArgs>),
    /// Print a signed token for a role in a room (a host key: `--role host --ttl 90d`).
    Token(token::TokenArgs),
    /// Print a room's events as they come (a terminal chat view for hosts).
    Watch(watch::WatchArgs),
    /// Load-test one room: N subscribers, M danmaku/s.
    Bench(bench::BenchArgs),
    /// Gifts per second one room sustains: grouped fsync against one fsync per gift.
    GiftBench(gift_bench::GiftBenchArgs),
}

pub fn run(c: RoomCmd) -> Result<(), RoomError> {
    match c {
        RoomCmd::Serve(a) => serve::serve(&a),
        RoomCmd::Token(a) => token::token(&a).map(|t| println!("{t}")),
        RoomCmd::Watch(a) => watch::watch(&a),
        RoomCmd::Bench(a) => bench::bench(&a).map(|_| ()),
        RoomCmd::GiftBench(a) => gift_bench::gift_bench(&a).map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use marquee_room::protocol::Role;
    use std::path::PathBuf;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: RoomCmd,
    }

    #[test]
    fn args_parse_with_the_documented_defaults() {
        let c = Cli::try_parse_from(["x", "serve"]).unwrap();
        let RoomCmd::Serve(s) = c.cmd else { panic!() };
        assert_eq!(s.listen.to_string(), "127.0.0.1:8787");
        assert_eq!(s.db, PathBuf::from("room.db"));
        let c = Cli::try_parse_from([
            "x",
            "token",
            "--room",
            "r",
            "--user",
            "u",
            "--role",
            "moderator",
        ])
        .unwrap();
        let RoomCmd::Token(t) = c.cmd else { panic!() };
        assert_eq!((t.role, t.ttl.as_str()), (Role::Moderator, "12h"));
        assert!(
            Cli::try_parse_from([
                "x", "token", "--room", "r", "--user", "u", "--role", "admin"
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from(["x", "watch", "--url", "ws://h/room/r/ws", "--token", "t"])
                .is_ok()
        );
        assert!(Cli::try_parse_from(["x", "bench", "--subscribers", "10"]).is_ok());
        let c = Cli::try_parse_from(["x", "gift-bench"]).unwrap();
        let RoomCmd::GiftBench(g) = c.cmd else {
            panic!()
        };
        assert_eq!((g.senders, g.window, g.seconds, g.rounds), (20, 16, 5, 3));
    }
}
