#!/usr/bin/env bash
# One same-run comparison: `marquee room bench` against the Rust room server, then against the
# Node `ws` peer (peer-ws.mjs), with the same arguments; prints a markdown table with the ratios,
# the server processes' CPU seconds and the load average (these machines are shared).
#
# Usage: crates/room/bench/compare.sh BIN [bench args…]
#   BIN: the `marquee` binary, target/release/marquee (cargo build --release -p marquee-cli)
#   e.g. compare.sh target/release/marquee --subscribers 5000 --rate 200 --seconds 10
# Needs node and `npm install` in crates/room/bench. Results (JSON) go to $OUT (default a temp dir).
set -euo pipefail
BIN=$(realpath "$1"); shift
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$(mktemp -d)}
[ -d "$HERE/node_modules/ws" ] || { echo "run: (cd $HERE && npm install)" >&2; exit 1; }
printf 'bench-secret-0123456789abcdef' > "$OUT/bench.secret"

cpu_s() { awk '{printf "%.2f", ($14+$15)/100}' "/proc/$1/stat"; }
load() { cut -d' ' -f1 /proc/loadavg; }

run() { # name port pid
  local name=$1 port=$2 pid=$3 c0 c1 l0
  shift 3
  l0=$(load); c0=$(cpu_s "$pid")
  "$BIN" room bench --url "ws://127.0.0.1:$port/room/bench/ws" --secret-file "$OUT/bench.secret" \
    --server-pid "$pid" --json-out "$OUT/$name.json" "$@" > "$OUT/$name.table"
  c1=$(cpu_s "$pid")
  echo "$l0 $(load) $(echo "$c1 - $c0" | bc)" > "$OUT/$name.extra"
}

rm -f "$OUT"/room.db*
# Every bench connection comes from 127.0.0.1: lift the per-address and per-room caps.
CAPS=(--max-connections 1000000 --max-room-connections 1000000 --max-connections-per-address 1000000
  --max-handshakes 100000 --max-handshakes-per-address 100000)
"$BIN" room serve --listen 127.0.0.1:18900 --db "$OUT/room.db" --secret-file "$OUT/bench.secret" "${CAPS[@]}" > "$OUT/serve.log" 2>&1 &
RUST=$!
node "$HERE/peer-ws.mjs" 18901 > "$OUT/peer.log" 2>&1 &
PEER=$!
trap 'kill $RUST $PEER 2>/dev/null || true' EXIT
sleep 1
ARGS=("$@")
run rust 18900 "$RUST" "${ARGS[@]}"
kill "$RUST"; wait "$RUST" 2>/dev/null || true
run peer 18901 "$PEER" "${ARGS[@]}"

node - "$OUT" "$BIN room bench ${ARGS[*]}" <<'JS'
const fs = require("fs");
const [dir, cmd] = process.argv.slice(2);
const get = (n) => ({ ...JSON.parse(fs.readFileSync(`${dir}/${n}.json`)), extra: fs.readFileSync(`${dir}/${n}.extra`, "utf8").trim().split(" ") });
const r = get("rust"), p = get("peer");
const f = (x, d = 1) => (x == null ? "—" : Number(x).toFixed(d));
const row = (name, x) => `| ${name} | ${f(x.delivered_per_s, 0)} | ${x.delivered} / ${x.expected} | ${f(x.p50_ms)} / ${f(x.p99_ms)} / ${f(x.p999_ms)} | ${f(x.rss_per_idle_conn_kb)} | ${x.extra[2]} s | ${x.extra[0]} → ${x.extra[1]} |`;
const ratio = (a, b) => (a && b ? (a / b).toFixed(2) + "×" : "—");
console.log(`\n\`${cmd}\` (subscribers ${r.batch ? "ask for" : "do not ask for"} batch frames)\n`);
console.log("| server | delivered msg/s | delivered / expected | p50 / p99 / p999 ms | RSS per idle conn (KiB) | server CPU | load avg |");
console.log("| --- | --- | --- | --- | --- | --- | --- |");
console.log(row("Rust room server", r));
console.log(row("Node `ws` peer", p));
console.log(`| **Rust / peer** | ${ratio(r.delivered_per_s, p.delivered_per_s)} | | p99 ${ratio(r.p99_ms, p.p99_ms)} | ${ratio(r.rss_per_idle_conn_kb, p.rss_per_idle_conn_kb)} | ${ratio(+r.extra[2], +p.extra[2])} | |`);
JS
