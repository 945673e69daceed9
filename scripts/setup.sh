#!/usr/bin/env bash
# Installs what Marquee needs to build and test on Debian/Ubuntu (idempotent, quick when done).
# On macOS/Windows it prints what to install instead.
set -euo pipefail

PKGS=(
  # build: FFmpeg 5.1+ dev headers (libx264 inside), ALSA, clang for bindgen
  pkg-config clang libclang-dev build-essential
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  libavdevice-dev libavfilter-dev libasound2-dev
  # the import-cycle check (scripts/import-cycles.py)
  python3
  # real parts used by the tests and the demo
  ffmpeg nginx libnginx-mod-rtmp libnginx-mod-stream openssl
  pulseaudio pulseaudio-utils libasound2-plugins sox
  dbus gnome-keyring
  # the local network room test: a second network namespace (ip) fetched from (curl)
  iproute2 curl
  # co-stream across networks: a real STUN/TURN server (coturn) and packet loss in a namespace (nft)
  coturn nftables
  # the clip save's system calls watched (durable writes: file, rename, folder synced)
  strace
  # the room past one machine: Postgres (the truth) and Redis (the bus), started by its tests
  postgresql redis-server
  # SRT output and network cameras: a real SRT ingest (srt-live-transmit)
  srt-tools
  # YouTube's streaming chat (gRPC) answered by a real gRPC server built from Google's published
  # stream_list.proto (protoc generates its messages; Python's grpcio serves them)
  protobuf-compiler python3-protobuf python3-grpcio
  # the viewer page's browser test (Playwright drives Debian's Chromium); the co-stream guest
  # page also in Firefox ESR (Puppeteer over WebDriver BiDi)
  chromium firefox-esr
  # the desktop app (Tauri 2 on WebKitGTK) and its end-to-end test under Xvfb
  libssl-dev libwebkit2gtk-4.1-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev
  xvfb xauth webkit2gtk-driver
)

case "$(uname -s)" in
  Darwin)
    echo "macOS: brew install ffmpeg pkg-config nginx; nginx-rtmp: brew tap denji/nginx && brew install nginx-full --with-rtmp-module" >&2
    exit 0 ;;
  MINGW*|MSYS*|CYGWIN*)
    echo "Windows: install FFmpeg dev libraries (vcpkg install ffmpeg[x264]) and set FFMPEG_DIR; LLVM for bindgen" >&2
    exit 0 ;;
esac

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: Node.js 20+ and npm are missing: install them (apt-get install nodejs npm, or nodesource), then re-run" >&2
  exit 1
fi

if ! command -v cargo >/dev/null; then
  echo "setup: Rust is missing: install it from rustup (https://rustup.rs), then re-run" >&2
  exit 1
fi

# The checks lint through clippy-driver and check formatting with rustfmt: a minimal rustup
# profile has neither.
if command -v rustup >/dev/null && ! rustup which clippy-driver >/dev/null 2>&1; then
  rustup component add clippy rustfmt
fi
