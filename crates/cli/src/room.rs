//! `marquee room …`: the live room server and its tools (crates/room).

use crate::Failure;
use marquee_room::cli;

#[derive(clap::Subcommand)]
pub enum RoomCmd {
    /// Run a room server (danmaku, gifts, votes, Q&A, lottery, moderation) with its viewer page.
    Serve(cli::ServeArgs),
    /// Print a signed token for a role in a room.
    Token(cli::TokenArgs),
    /// Print a room's events as they come (a terminal chat view for hosts).
    Watch(cli::WatchArgs),
    /// Load-test one room: N subscribers, M danmaku/s.
    Bench(cli::BenchArgs),
}

pub fn run(c: RoomCmd) -> Result<(), Failure> {
    let r = match c {
        RoomCmd::Serve(a) => cli::serve(&a),
        RoomCmd::Token(a) => cli::token(&a).map(|t| println!("{t}")),
        RoomCmd::Watch(a) => cli::watch(&a),
        RoomCmd::Bench(a) => cli::bench(&a).map(|_| ()),
    };
    r.map_err(|e| Failure::runtime(e.to_string()))
}
