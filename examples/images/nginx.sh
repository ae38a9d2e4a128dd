#!/bin/bash
# nginx.sh OUT - docker.io/library/nginx:latest from Debian's nginx, written as a docker-archive
# (`docker save` format) with two layers:
#   1. base:  the dynamic loader, every shared library nginx needs (from ldd), /etc/passwd and
#             /etc/group with www-data, nsswitch.conf, a merged-/usr layout;
#   2. nginx: /usr/sbin/nginx, /etc/nginx (Debian's nginx.conf and mime.types; one server on
#             port 80 in conf.d/default.conf), an index.html, /var/log/nginx with access.log and
#             error.log linked to /dev/stdout and /dev/stderr, /var/lib/nginx, /run.
# Cmd ["nginx", "-g", "daemon off;"], ExposedPorts 80/tcp, StopSignal SIGQUIT.
. "$(dirname "$0")/lib.sh"

out=${1:?usage: nginx.sh OUT.tar}
need ldd jq sha256sum tar
nginx=/usr/sbin/nginx
[ -x "$nginx" ] || die "$nginx not found (install nginx-light)"


# ---- layer 1: base -------------------------------------------------------------------------
base=$work/base
mkdir -p "$base"/usr/{bin,sbin,lib,lib64} "$base"/{etc,tmp,root,dev,proc,sys}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$base/$d"; done
chmod 1777 "$base/tmp"
chmod 0700 "$base/root"

# copy_lib PATH: the real file at its canonical place, plus a symlink under the name ldd used
copy_lib() {
    local p=$1 real dir
    real=$(readlink -f "$p")
    dir=$(readlink -f "$(dirname "$p")")
    mkdir -p "$base$(dirname "$real")" "$base$dir"
    [ -e "$base$real" ] || cp -p "$real" "$base$real"
    [ -e "$base$dir/$(basename "$p")" ] || ln -s "$real" "$base$dir/$(basename "$p")"
}
ldd "$nginx" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do
    copy_lib "$lib"
done

cat >"$base/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PW
cat >"$base/etc/group" <<'GR'
root:x:0:
www-data:x:33:
nogroup:x:65534:
GR
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$base/etc/nsswitch.conf"
chmod 0644 "$base"/etc/{passwd,group,nsswitch.conf}

# ---- layer 2: nginx ------------------------------------------------------------------------
top=$work/nginx
mkdir -p "$top"/etc "$top"/usr/sbin "$top"/usr/share/nginx/html "$top"/var/log/nginx "$top"/var/lib/nginx \
    "$top"/var/lock "$top"/run
install -m 0755 "$nginx" "$top/usr/sbin/nginx"
cp -a /etc/nginx "$top/etc/nginx"
rm -rf "$top"/etc/nginx/sites-enabled/* "$top"/etc/nginx/modules-enabled/*
cat >"$top/etc/nginx/conf.d/default.conf" <<'CONF'
server {
    listen 80 default_server;
    server_name _;
    root /usr/share/nginx/html;
    index index.html;
    location / {
        try_files $uri $uri/ =404;
    }
}
CONF
if [ -f /usr/share/nginx/html/index.html ]; then
    cp /usr/share/nginx/html/index.html "$top/usr/share/nginx/html/index.html"
else
    printf '<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\n<body><h1>Welcome to nginx!</h1></body></html>\n' \
        >"$top/usr/share/nginx/html/index.html"
fi
chmod 0644 "$top/usr/share/nginx/html/index.html"
ln -s /dev/stdout "$top/var/log/nginx/access.log"
ln -s /dev/stderr "$top/var/log/nginx/error.log"

layer_tar "$base" "$work/base.tar"
layer_tar "$top" "$work/nginx.tar"
config='{
  "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
  "Cmd": ["nginx", "-g", "daemon off;"],
  "ExposedPorts": {"80/tcp": {}},
  "StopSignal": "SIGQUIT"
}'
docker_archive "$out" docker.io/library/nginx:latest "$(jq -c . <<<"$config")" \
    "$work/base.tar" "$work/nginx.tar"
