#!/usr/bin/env bash
# Sets everything up and runs every check and test: fmt, clippy, unit and end-to-end tests
# (real nginx-rtmp, ffprobe, PulseAudio, gnome-keyring — each started by the test itself).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The desktop app's frontend first: type check, component tests (vitest + jsdom), and the
# build the Tauri crate embeds (src-tauri needs ui/dist to compile).
npm --prefix ui install --no-audit --no-fund --loglevel=error
npm --prefix ui run check
npm --prefix ui test
# The components' flows in headless Chromium (mocked IPC), with screenshots.
npm --prefix ui run test:browser
npm --prefix ui run build
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --bins
cargo test --workspace --no-fail-fast
# The room's viewer page in headless Chromium against the real server binary.
(cd crates/room/tests/viewer && npm install --no-audit --no-fund --loglevel=error)
MARQUEE_BIN="$PWD/target/debug/marquee" node --test crates/room/tests/viewer/viewer.test.mjs
# The real app under Xvfb, driven by tauri-driver + WebKitWebDriver.
npm --prefix tests/app install --no-audit --no-fund --loglevel=error
MARQUEE_APP="$PWD/target/debug/marquee-app" xvfb-run -a npm --prefix tests/app test
