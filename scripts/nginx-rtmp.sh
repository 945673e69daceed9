#!/usr/bin/env bash
# Starts a local nginx-rtmp ingest in the foreground with its own prefix (no root paths).
# usage: scripts/nginx-rtmp.sh DIR [PORT [ADDRESS]]   (records every stream under DIR/record;
#        listens on ADDRESS, 127.0.0.1 unless given)
set -euo pipefail
dir=${1:?usage: nginx-rtmp.sh DIR [PORT [ADDRESS]]}
port=${2:-1935}
address=${3:-127.0.0.1}
module=/usr/lib/nginx/modules/ngx_rtmp_module.so
command -v nginx >/dev/null || { echo "nginx is missing: apt-get install -y nginx libnginx-mod-rtmp" >&2; exit 1; }
[ -f "$module" ] || { echo "the RTMP module is missing: apt-get install -y libnginx-mod-rtmp" >&2; exit 1; }
mkdir -p "$dir/record" "$dir/logs"
chmod 777 "$dir/record"
cat > "$dir/nginx.conf" <<CONF
load_module $module;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 256; }
rtmp {
  server {
    listen $address:$port;
    application live {
      live on;
      record all;
      record_path $dir/record;
      record_unique on;
    }
  }
}
CONF
exec nginx -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf"
