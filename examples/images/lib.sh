# lib.sh - shared helpers for the offline image recipes (sourced, not run).
#
# Images are assembled from a rootfs directory with tar, gzip, sha256sum and jq only: no docker,
# no registry. Output is reproducible: fixed mtimes, numeric root ownership, sorted entries,
# gzip without names or timestamps.
#
# Sourcing creates $work, a scratch directory removed when the script exits (even on failure);
# every helper keeps its temporary files inside it.

set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Fixed timestamp for every file and for the image's "created" (2024-01-01T00:00:00Z).
MK_EPOCH=${SOURCE_DATE_EPOCH:-1704067200}
MK_CREATED=$(date -u -d "@$MK_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

die() {
    echo "$0: $*" >&2
    exit 1
}

need() {
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || die "missing tool: $t (make deps installs it)"
    done
}

# Go/OCI architecture name of this machine.
oci_arch() {
    case "$(dpkg --print-architecture)" in
    amd64) echo amd64 ;;
    arm64) echo arm64 ;;
    armhf | armel) echo arm ;;
    i386) echo 386 ;;
    ppc64el) echo ppc64le ;;
    s390x) echo s390x ;;
    riscv64) echo riscv64 ;;
    *) die "unsupported architecture $(dpkg --print-architecture)" ;;
    esac
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }

# layer_tar ROOTFS OUT: a reproducible, uncompressed layer tar of ROOTFS's content.
# Ownership comes from the files themselves when root built them, else root.
layer_tar() {
    local rootfs=$1 out=$2 list
    list=$(mktemp -p "$work")
    (cd "$rootfs" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort) >"$list"
    local owner="--owner=0 --group=0"
    [ "$(id -u)" = 0 ] && owner=""
    # shellcheck disable=SC2086
    tar -C "$rootfs" --format=posix --numeric-owner $owner \
        --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
        --mtime="@$MK_EPOCH" --no-recursion --files-from="$list" -cf "$out"
    rm -f "$list"
}

# archive_dir DIR OUT: a reproducible tar of DIR's content (the outer image archive).
archive_dir() {
    local dir=$1 out=$2 list
    list=$(mktemp -p "$work")
    (cd "$dir" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort) >"$list"
    tar -C "$dir" --format=posix --numeric-owner --owner=0 --group=0 \
        --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
        --mtime="@$MK_EPOCH" --mode=u+rw,go+r-w --no-recursion --files-from="$list" -cf "$out"
    rm -f "$list"
}

# image_config CONFIG_JSON LAYER.tar... : the image config (to stdout). CONFIG_JSON is the
# "config" object (Entrypoint, Cmd, Env, ...); diff ids are computed from the plain layer tars.
image_config() {
    local cfg=$1 ids="[]" l
    shift
    for l in "$@"; do
        ids=$(jq -c --arg d "sha256:$(sha256 "$l")" '. + [$d]' <<<"$ids")
    done
    jq -c -n --arg arch "$(oci_arch)" --arg created "$MK_CREATED" --argjson config "$cfg" \
        --argjson ids "$ids" --argjson n "$#" '{
            architecture: $arch, os: "linux", created: $created, config: $config,
            rootfs: {type: "layers", diff_ids: $ids},
            history: [range($n) | {created: $created, created_by: "examples/images (offline)"}]
        }'
}

# oci_archive OUT NAME CONFIG_JSON LAYER.tar... : an OCI image layout archive, as
# `skopeo copy ... oci-archive:OUT:NAME` writes it, with gzip-compressed layers.
oci_archive() {
    local out=$1 name=$2 cfg=$3 dir l gz d layers="[]" cdig mdig
    shift 3
    dir=$(mktemp -d -p "$work")
    mkdir -p "$dir/blobs/sha256" "$(dirname "$out")"
    for l in "$@"; do
        gz="$dir/layer.gz"
        gzip -n -9 -c "$l" >"$gz"
        d=$(sha256 "$gz")
        mv "$gz" "$dir/blobs/sha256/$d"
        layers=$(jq -c --arg d "sha256:$d" --argjson s "$(size_of "$dir/blobs/sha256/$d")" \
            '. + [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}]' \
            <<<"$layers")
    done
    image_config "$cfg" "$@" >"$dir/config.json"
    cdig=$(sha256 "$dir/config.json")
    jq -c -n --arg d "sha256:$cdig" --argjson s "$(size_of "$dir/config.json")" \
        --argjson layers "$layers" '{
            schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $d, size: $s},
            layers: $layers
        }' >"$dir/manifest.json"
    mdig=$(sha256 "$dir/manifest.json")
    jq -c -n --arg d "sha256:$mdig" --argjson s "$(size_of "$dir/manifest.json")" \
        --arg name "$name" '{
            schemaVersion: 2,
            manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d,
                         size: $s, annotations: {"org.opencontainers.image.ref.name": $name}}]
        }' >"$dir/index.json"
    mv "$dir/config.json" "$dir/blobs/sha256/$cdig"
    mv "$dir/manifest.json" "$dir/blobs/sha256/$mdig"
    echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
    archive_dir "$dir" "$out.tmp"
    mv "$out.tmp" "$out"
    rm -rf "$dir"
}

# docker_archive OUT NAME CONFIG_JSON LAYER.tar... : a `docker save` archive (manifest.json,
# repositories, <config>.json, <diffid>/layer.tar) with plain tar layers.
docker_archive() {
    local out=$1 name=$2 cfg=$3 dir l d layers="[]" cdig repo tag
    shift 3
    dir=$(mktemp -d -p "$work")
    mkdir -p "$(dirname "$out")"
    for l in "$@"; do
        d=$(sha256 "$l")
        mkdir -p "$dir/$d"
        cp "$l" "$dir/$d/layer.tar"
        echo "1.0" >"$dir/$d/VERSION"
        layers=$(jq -c --arg p "$d/layer.tar" '. + [$p]' <<<"$layers")
    done
    image_config "$cfg" "$@" >"$dir/config.json"
    cdig=$(sha256 "$dir/config.json")
    mv "$dir/config.json" "$dir/$cdig.json"
    repo=${name%:*}
    tag=${name##*:}
    jq -c -n --arg c "$cdig.json" --arg t "$name" --argjson layers "$layers" \
        '[{Config: $c, RepoTags: [$t], Layers: $layers}]' >"$dir/manifest.json"
    jq -c -n --arg r "$repo" --arg t "$tag" --arg top "$d" '{($r): {($t): $top}}' \
        >"$dir/repositories"
    archive_dir "$dir" "$out.tmp"
    mv "$out.tmp" "$out"
    rm -rf "$dir"
}
