#!/bin/bash
# verify.sh OUTDIR [MINI_KUBELET] - check the built archives with an independent tool:
# skopeo must read each one and convert it to the other archive format. With MINI_KUBELET,
# every original and converted archive is also imported into a throwaway root dir.
set -eu
out=${1:?usage: verify.sh OUTDIR [MINI_KUBELET]}
mk=${2:-}
command -v skopeo >/dev/null || { echo "verify.sh: skopeo is not installed" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sk() { skopeo --insecure-policy "$@"; }

sk inspect oci-archive:"$out/busybox.tar" | jq -e '.Architecture and (.Layers | length == 1)' >/dev/null
sk inspect docker-archive:"$out/nginx.tar" | jq -e '.Layers | length == 2' >/dev/null
sk inspect --config docker-archive:"$out/nginx.tar" |
    jq -e '.config.Cmd == ["nginx","-g","daemon off;"] and .config.ExposedPorts["80/tcp"]' >/dev/null
sk copy -q oci-archive:"$out/busybox.tar" docker-archive:"$work/busybox-docker.tar":docker.io/library/busybox:converted
sk copy -q docker-archive:"$out/nginx.tar" oci-archive:"$work/nginx-oci.tar":docker.io/library/nginx:converted
echo "skopeo: archives are valid and convert both ways"

if [ -n "$mk" ]; then
    root=$work/root
    "$mk" --root-dir "$root" image import "$out/busybox.tar" "$out/nginx.tar" \
        "$work/busybox-docker.tar" "$work/nginx-oci.tar" 2>/dev/null
    "$mk" --root-dir "$root" image ls
    n=$("$mk" --root-dir "$root" image ls | tail -n +2 | wc -l)
    [ "$n" = 4 ] || { echo "verify.sh: expected 4 images, got $n" >&2; exit 1; }
fi
echo "verify.sh: ok"
