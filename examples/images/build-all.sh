#!/bin/bash
# build-all.sh OUTDIR - build every example image into OUTDIR, offline, from Debian packages:
#   OUTDIR/busybox.tar  docker.io/library/busybox:latest  OCI image layout archive
#   OUTDIR/nginx.tar    docker.io/library/nginx:latest    docker-archive
# An image is rebuilt only when its recipe or the Debian packages it is made from changed
# (OUTDIR/<name>.stamp records them). FORCE=1 rebuilds everything.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-all.sh OUTDIR}
mkdir -p "$out"

# stamp NAME PACKAGE...: what an image depends on, as one line
stamp() {
    local name=$1
    shift
    {
        sha256sum "$here/lib.sh" "$here/$name.sh" | cut -d' ' -f1
        dpkg-query -W -f='${Package}=${Version}\n' "$@" 2>/dev/null || true
        dpkg --print-architecture
    } | sha256sum | cut -d' ' -f1
}

build() {
    local name=$1 s
    shift
    s=$(stamp "$name" "$@")
    if [ -z "${FORCE:-}" ] && [ -f "$out/$name.tar" ] && [ "$(cat "$out/$name.stamp" 2>/dev/null)" = "$s" ]; then
        echo "$name: up to date ($out/$name.tar)"
        return
    fi
    rm -f "$out/$name.stamp"
    "$here/$name.sh" "$out/$name.tar"
    echo "$s" >"$out/$name.stamp"
    echo "$name: built $out/$name.tar"
}

build busybox busybox-static
build nginx nginx nginx-common nginx-light libc6 libssl3 libpcre2-8-0 zlib1g libcrypt1
