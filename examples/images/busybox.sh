#!/bin/bash
# busybox.sh OUT - docker.io/library/busybox:latest from Debian's busybox-static, written as an
# OCI image layout archive (skopeo's oci-archive format).
#
# The rootfs: /bin/busybox, a symlink for every applet at its usual path, /etc/passwd and
# /etc/group, and the usual empty directories. Cmd ["sh"].
. "$(dirname "$0")/lib.sh"

out=${1:?usage: busybox.sh OUT.tar}
need busybox jq sha256sum gzip tar
bb=$(command -v busybox)
[ -f /bin/busybox ] && bb=/bin/busybox
file -b "$bb" 2>/dev/null | grep -q 'dynamically linked' && die "$bb is not static (install busybox-static)"

root=$work/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,home,tmp,var/tmp,proc,sys,dev,run}
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 0700 "$root/root"
install -m 0755 "$bb" "$root/bin/busybox"
"$bb" --list-full | while read -r applet; do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -sf /bin/busybox "$root/$applet"
done
cat >"$root/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
PW
cat >"$root/etc/group" <<'GR'
root:x:0:
daemon:x:1:
nogroup:x:65534:
GR
chmod 0644 "$root/etc/passwd" "$root/etc/group"

layer_tar "$root" "$work/layer.tar"
config='{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]}'
oci_archive "$out" docker.io/library/busybox:latest "$config" "$work/layer.tar"
