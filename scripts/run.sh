#!/usr/bin/env bash
# Sets everything up and runs Marquee: the desktop app when there is a display; otherwise
# the headless live demo — a local nginx-rtmp ingest, Marquee live to it with the test
# pattern (or camera 0 if there is one) and a tone, recording locally. The demo stops on
# Ctrl-C, or after $DURATION (default: 30s when not on a terminal). MARQUEE_DEMO=headless
# forces the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "${MARQUEE_DEMO:-}" != headless ]; then
  npm --prefix ui install --no-audit --no-fund --loglevel=error
  npm --prefix ui run build
  cargo build -p marquee-app
  exec target/debug/marquee-app
fi
echo "run: no display, so this is the headless demo (the desktop app: xvfb-run -a target/debug/marquee-app)"
cargo build -p marquee-cli
bin=target/debug/marquee

port=${PORT:-1935}
if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
work=$(mktemp -d -t marquee-demo-XXXXXX)
scripts/nginx-rtmp.sh "$work/nginx" "$port" >"$work/nginx.out" 2>&1 &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null; wait $nginx_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

video=test
if "$bin" devices --json 2>/dev/null | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["cameras"] else 1)'; then
  video=camera:0
fi
args=()
if [ -n "${DURATION:-}" ]; then args+=(--duration "$DURATION")
elif [ ! -t 0 ]; then args+=(--duration 30s); fi

url="rtmp://127.0.0.1:$port/live/demo"
echo "demo: local ingest at rtmp://127.0.0.1:$port/live — watch with:  ffplay $url"
echo "demo: the server also records to $work/nginx/record"
"$bin" live --video "$video" --audio tone --to "$url" \
  --record "${RECORD:-$HOME/Videos/Marquee/demo-$(date +%Y%m%d-%H%M%S).mkv}" "${args[@]}"
