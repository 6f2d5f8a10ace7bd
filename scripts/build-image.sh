#!/usr/bin/env bash
# Builds the backup-operator, backup-manager and sim OCI images without a container engine, then runs each binary's
# --version from the image's own filesystem. The sim image also holds the scenarios, under /scenarios.
#
# The images match the Dockerfile's final stages: the binary on a distroless-style base made of the build host's
# glibc and libgcc (Debian 12, as distroless cc-debian12), the CA bundle, /etc/passwd with nonroot 65532, and /tmp;
# user 65532:65532. They are assembled with umoci (Debian package `umoci`), which needs neither a daemon nor root.
#
# Usage: scripts/build-image.sh [--out DIR] [--only backup-operator|backup-manager|sim] [--skip-build]
# Output: DIR/<name>/ (an OCI image layout, tag = crate version) and DIR/<name>-<version>.oci.tar (an OCI archive).
# Push:   skopeo copy oci:DIR/backup-operator:<version> docker://ghcr.io/tidb-backup-operator/backup-operator:<version>
set -euo pipefail

cd "$(dirname "$0")/.."
root_dir=$(pwd)
out="$root_dir/target/oci"
only=""
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=$(realpath -m "$2"); shift 2 ;;
        --only) only="$2"; shift 2 ;;
        --skip-build) build=0; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "build-image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

die() { echo "build-image.sh: $*" >&2; exit 1; }

command -v umoci >/dev/null || die "umoci is not installed (Debian/Ubuntu: apt-get install umoci)"
command -v ldd >/dev/null || die "ldd is not installed (Debian/Ubuntu: apt-get install libc-bin)"
command -v strip >/dev/null || die "strip is not installed (Debian/Ubuntu: apt-get install binutils)"

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
[ -n "$version" ] || die "cannot read [workspace.package] version from Cargo.toml"

names=(backup-operator backup-manager sim)
if [ -n "$only" ]; then
    case "$only" in
        backup-operator|backup-manager|sim) names=("$only") ;;
        *) die "--only takes backup-operator, backup-manager or sim" ;;
    esac
fi

target_dir="${CARGO_TARGET_DIR:-$root_dir/target}"
if [ "$build" = 1 ]; then
    bins=()
    for n in "${names[@]}"; do bins+=(--bin "$n"); done
    cargo build --release --locked -p operator -p simulator "${bins[@]}"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# The files of the base: the binary's shared libraries and loader, users, CA bundle, /tmp.
assemble_rootfs() {
    local name=$1 bin=$2 rootfs=$3
    mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs" "$rootfs/home/nonroot"
    install -m 0755 "$bin" "$rootfs/usr/local/bin/$name"
    # The release profile keeps line tables for profiling; the image does not need them (symbols stay, so a panic's
    # backtrace still names its functions), and they are most of a binary's size.
    strip --strip-debug "$rootfs/usr/local/bin/$name"
    local lib
    for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
        mkdir -p "$rootfs$(dirname "$lib")"
        cp -L "$lib" "$rootfs$lib"
    done
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
        > "$rootfs/etc/passwd"
    printf 'root:x:0:\nnonroot:x:65532:\n' > "$rootfs/etc/group"
    printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
    if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
        cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    else
        die "no CA bundle at /etc/ssl/certs/ca-certificates.crt (apt-get install ca-certificates)"
    fi
    mkdir -p "$rootfs/tmp"
    chmod 1777 "$rootfs/tmp"
}

# Runs `<name> --version` with nothing but the image's files: chrooted when root, else through the image's own
# dynamic loader with the host's library cache and environment ignored.
check_version() {
    local name=$1 layout=$2 bundle="$work/check-$1"
    umoci unpack --rootless --image "$layout:$version" "$bundle" >/dev/null
    local rootfs="$bundle/rootfs" got
    if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null; then
        got=$(env -i "$(command -v chroot)" --userspec=65532:65532 "$rootfs" "/usr/local/bin/$name" --version)
    else
        local loader libpath
        loader=$(ldd "$rootfs/usr/local/bin/$name" | grep -o '/[^ ]*ld-linux[^ ]*' | head -n1)
        libpath=$(find "$rootfs" -name '*.so*' -printf '%h\n' | sort -u | paste -sd: -)
        got=$(env -i "$rootfs$loader" --inhibit-cache --library-path "$libpath" "$rootfs/usr/local/bin/$name" --version)
    fi
    [ "$got" = "$name $version" ] || die "$name --version from the image printed '$got', expected '$name $version'"
    echo "$name: '$got' from the image's filesystem"
}

for name in "${names[@]}"; do
    bin="$target_dir/release/$name"
    [ -x "$bin" ] || die "$bin does not exist: this checkout has no $name binary (use --only to build one image)"
    layout="$out/$name"
    rm -rf "$layout" "$out/$name-$version.oci.tar"
    bundle="$work/bundle-$name"

    umoci init --layout "$layout"
    umoci new --image "$layout:$version"
    umoci unpack --rootless --image "$layout:$version" "$bundle" >/dev/null
    assemble_rootfs "$name" "$bin" "$bundle/rootfs"
    if [ "$name" = sim ]; then
        cp -R "$root_dir/scenarios" "$bundle/rootfs/scenarios"
    fi
    umoci repack --image "$layout:$version" --history.created_by "scripts/build-image.sh" "$bundle"
    config=(--config.user 65532:65532 --config.entrypoint "/usr/local/bin/$name" --config.workingdir /
            --config.env PATH=/usr/local/bin:/usr/bin:/bin --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
            --config.label "org.opencontainers.image.title=$name"
            --config.label "org.opencontainers.image.version=$version"
            --os linux --architecture "$(go_arch=$(uname -m); case $go_arch in x86_64) echo amd64 ;; aarch64) echo arm64 ;; *) echo "$go_arch" ;; esac)")
    if [ "$name" = backup-operator ]; then
        config+=(--config.cmd run --config.exposedports 8080/tcp)
    fi
    umoci config --image "$layout:$version" "${config[@]}"
    umoci gc --layout "$layout"

    check_version "$name" "$layout"
    rm -rf "$bundle" "$work/check-$name"
    tar -C "$layout" -cf "$out/$name-$version.oci.tar" .
    size=$(du -sh "$layout" | cut -f1)
    echo "$name: OCI layout $layout (tag $version, $size), archive $out/$name-$version.oci.tar"
done
