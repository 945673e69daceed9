#!/usr/bin/env bash
# Sets everything up and runs every check and test: fmt, clippy, unit and end-to-end tests
# (real nginx-rtmp, ffprobe, PulseAudio, gnome-keyring — each started by the test itself).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --bins
cargo test --workspace --no-fail-fast
# The room's viewer page in headless Chromium against the real server binary.
(cd crates/room/tests/viewer && npm install --no-audit --no-fund --loglevel=error)
MARQUEE_ROOM_BIN="$PWD/target/debug/marquee-room" node --test crates/room/tests/viewer/viewer.test.mjs
# The desktop app's frontend: type check and component tests (vitest + jsdom).
npm --prefix ui install --no-audit --no-fund --loglevel=error
npm --prefix ui run check
npm --prefix ui test
