//! The parts of a room cluster for suites outside Rust (the viewer page's): a Postgres with an
//! empty database and a Redis, each on loopback under a temporary directory of its own. Prints
//! one JSON line — `store` (the Postgres URL for `marquee room serve --store`) and `bus` (the
//! Redis URL for `--bus`), and their process ids (`postgres_pid`: the postmaster, whose
//! children are its backends; `redis_pid`) for a benchmark's CPU accounting — then runs until
//! stdin closes, and stops and removes both.

use marquee_roomcluster::testing::{Postgres, Redis};
use std::io::Read;

fn main() {
    let pg = Postgres::start();
    let store = pg.create_db("viewer");
    let redis = Redis::start();
    println!(
        "{}",
        serde_json::json!({
            "store": store,
            "bus": redis.url(),
            "postgres_pid": pg.pid(),
            "redis_pid": redis.pid(),
        })
    );
    // Until the suite closes stdin (or exits).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(redis);
    drop(pg);
}
