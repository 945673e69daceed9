#!/usr/bin/env bash
# Sets everything up and runs the checks and tests, in stages:
#
#   scripts/test.sh [fast|rust|ui|e2e|app|all]      (default: all; CI runs all)
#
#   fast  fmt, clippy, no import cycle between files (scripts/import-cycles.py), every
#         crate's own tests, the UI's type check and component tests
#         (no real-time encodes against nginx, no browser, no app): a few minutes warm
#   rust  fmt, clippy, import cycles, every Rust test, end-to-end suites included
#   ui    the UI's type check, component tests, browser flows (mocked IPC), build
#   e2e   the end-to-end suites: the CLI against real nginx-rtmp, ffprobe, PulseAudio,
#         gnome-keyring (each started by the test itself); the viewer page in Chromium,
#         playing HLS from nginx-rtmp, and on a 3-node room cluster (Postgres + Redis)
#   app   the real desktop app under Xvfb, driven by tauri-driver + WebKitWebDriver
#   all   everything above, each part once
set -euo pipefail
cd "$(dirname "$0")/.."
stage="${1:-all}"
case "$stage" in
  fast|rust|ui|e2e|app|all) ;;
  *) echo "usage: scripts/test.sh [fast|rust|ui|e2e|app|all]" >&2; exit 2 ;;
esac

# Each step says how long the run has taken so far, so a slow stage shows in CI's log.
started=$(date +%s)
step() { printf '\n== [%dm%02ds] %s\n' $(( ($(date +%s) - started) / 60 )) $(( ($(date +%s) - started) % 60 )) "$*" >&2; }

scripts/setup.sh

# Clippy's lints run as the workspace's own crates compile, with clippy-driver as cargo's
# workspace wrapper (what `cargo clippy` itself does, warnings denied): one compile serves the
# lints, the binaries and the tests, where a separate `cargo clippy` checks every dependency
# once more (8 of CI's minutes on 2 cores). The same wrapper in every stage keeps their builds
# shared.
RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver || true)"
if [ -z "$RUSTC_WORKSPACE_WRAPPER" ]; then
  echo "clippy is missing: rustup component add clippy" >&2
  exit 1
fi
export RUSTC_WORKSPACE_WRAPPER
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"

ui_deps() {
  step "ui: dependencies"
  npm --prefix ui install --no-audit --no-fund --loglevel=error
}

# The Tauri crate embeds ui/dist: it must exist before anything compiles src-tauri.
ui_dist() {
  if [ ! -f ui/dist/index.html ] || [ "$stage" = all ] || [ "$stage" = ui ] || [ "$stage" = app ]; then
    step "ui: build (src-tauri embeds ui/dist)"
    npm --prefix ui run build
  fi
}

ui_unit() {
  step "ui: type check and component tests (vitest + jsdom)"
  npm --prefix ui run check
  npm --prefix ui test
}

ui_browser() {
  step "ui: the components' flows in headless Chromium (mocked IPC), with screenshots"
  npm --prefix ui run test:browser
}

lint() {
  step "rust: fmt, no import cycle between files"
  python3 scripts/import-cycles.py
  cargo fmt --all -- --check
}

# `fast` builds less than everything: clippy checks all of it apart.
clippy() {
  step "rust: clippy"
  cargo clippy --workspace --all-targets -- -D warnings
}

# Every target the tests need (the end-to-end suites drive the binaries), linted as it compiles.
# Tests included: their dev-dependencies settle the features once, so `cargo test` afterwards
# compiles nothing again.
bins() {
  step "rust: build and lint the binaries and the tests (the end-to-end suites drive the binaries)"
  cargo build --workspace --lib --bins --tests --examples
}

crate_tests() {
  step "rust: every crate's own tests"
  cargo test --workspace --exclude marquee-e2e --no-fail-fast
}

e2e_tests() {
  step "e2e: the CLI against real nginx-rtmp, ffprobe, PulseAudio and gnome-keyring"
  cargo test -p marquee-e2e --no-fail-fast
}

# Every Rust test in one run. One cargo invocation over the whole workspace resolves features
# once, as clippy and the build did: selecting packages (-p, --exclude) resolves them anew and
# rebuilds much of the dependency tree, which CI must not pay twice.
all_rust_tests() {
  step "rust: every test, the end-to-end suites (real nginx-rtmp, ffprobe, PulseAudio, gnome-keyring) included"
  cargo test --workspace --no-fail-fast
}

viewer() {
  step "e2e: the room's viewer page in headless Chromium against the real server; its playback from a real nginx-rtmp (HLS)"
  (cd crates/room/tests/viewer && npm install --no-audit --no-fund --loglevel=error)
  MARQUEE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/marquee" node --test --test-concurrency=1 \
    crates/room/tests/viewer/lanes.test.mjs crates/room/tests/viewer/viewer.test.mjs \
    crates/room/tests/viewer/playback.test.mjs
  step "e2e: the viewer page's flows again on a 3-node room cluster (real Postgres + Redis): the host on node 1, viewers on nodes 2 and 3"
  MQ_ROOM_NODES=3 MARQUEE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/marquee" node --test --test-concurrency=1 \
    crates/room/tests/viewer/viewer.test.mjs
}

guest_page() {
  step "e2e: the co-stream guest page in headless Chromium: against its dev server (every screen), then as a real guest of marquee live --guests 1, and through a real coturn relay; then as a guest in headless Firefox"
  (cd crates/costream/tests/page && npm install --no-audit --no-fund --loglevel=error)
  node --test crates/guestdoor/assets/join-logic.test.mjs
  MARQUEE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/marquee" node --test --test-concurrency=1 \
    crates/costream/tests/page/page.test.mjs crates/costream/tests/page/host.test.mjs \
    crates/costream/tests/page/relay.test.mjs crates/costream/tests/page/firefox.test.mjs
}

app() {
  step "app: the real app under Xvfb (tauri-driver + WebKitWebDriver)"
  npm --prefix tests/app install --no-audit --no-fund --loglevel=error
  MARQUEE_APP="${CARGO_TARGET_DIR:-$PWD/target}/debug/marquee-app" xvfb-run -a npm --prefix tests/app test
}

case "$stage" in
  fast)
    ui_deps; ui_dist; ui_unit; lint; clippy; crate_tests ;;
  rust)
    ui_deps; ui_dist; lint; bins; all_rust_tests ;;
  ui)
    ui_deps; ui_unit; ui_browser; ui_dist ;;
  e2e)
    ui_deps; ui_dist; bins; e2e_tests; viewer; guest_page ;;
  app)
    ui_deps; ui_dist; bins; app ;;
  all)
    ui_deps; ui_unit; ui_browser; ui_dist; lint; bins; all_rust_tests; viewer; guest_page; app ;;
esac
step "scripts/test.sh $stage: passed"
