#!/usr/bin/env bash
# Debian build roots ("chroots") for running kafkify's wheels on platforms other than
# the host's: an arm64 one run under qemu-user emulation, and an older-glibc amd64 one
# (the floor a manylinux wheel has to load on).
#
#   scripts/platform_root.sh make NAME
#   scripts/platform_root.sh run  NAME [--bind HOSTDIR:/PATH]... [--env VAR=VALUE]... -- CMD...
#   scripts/platform_root.sh list
#   scripts/platform_root.sh python bullseye-amd64
#   scripts/platform_root.sh python-source      (prints the cached CPython tarball, fetching it once)
#
# NAME:
#   bookworm-arm64   Debian 12, arm64, Python 3.11, run through qemu-aarch64 (binfmt_misc)
#   bullseye-amd64   Debian 11, amd64, glibc 2.31, Python 3.9
#
# make  installs debootstrap (and qemu-user-static for arm64) if missing, registers
#       qemu-aarch64 with binfmt_misc with the F (fix-binary) flag, so the interpreter
#       is opened at registration and works inside the chroot too, debootstraps a
#       minbase root into ${KAFKIFY_CACHE:-~/.cache/kafkify}/roots/NAME, and copies the
#       host's DNS, pip settings and extra CA certificates into it, so pip inside
#       reaches PyPI the way the host's does. A complete root has the marker file
#       .kafkify-root-complete (it also records how long the make took); a root
#       without it is removed and made again. Prints the time the make took.
# run   runs CMD as root inside the root, with /proc, /sys, /dev, /dev/pts and /dev/shm
#       mounted and each --bind HOSTDIR:/PATH bind-mounted, in a private mount
#       namespace (unshare), so every mount goes away when CMD ends, whatever
#       happens; they are also unmounted by a trap. The network namespace is the
#       host's: a broker listening on the host's 127.0.0.1 is reachable from inside.
#       CMD starts with a clean environment (HOME, PATH, LANG, TERM, and the --env ones).
# python  (bullseye-amd64 only) builds a CPython >= 3.10 inside the root, linked against
#       its glibc 2.31, since kafkify's abi3 wheels need CPython >= 3.10 and bullseye's
#       is 3.9: installs the build deps with the root's apt, downloads Debian
#       bookworm's python3.11_3.11.2.orig.tar.gz into the cache (size and sha256
#       checked; kept for next time), builds it in the root (no PGO/LTO, make -j2) into
#       /opt/python3.11 (scripts/platform_smoke.sh makes its venvs from it). Skips the
#       build if /opt/python3.11 has the marker .kafkify-python-complete (it records
#       the build time). Always ends by printing the checks (sys.version, libc,
#       OpenSSL, ldd). Takes ~4.5 min on 2 cores (build deps, download, configure, make).
#
# Must run as root. make and run never build anything: pip inside a root should be
# given --only-binary=:all: (compiling under emulation takes hours on 2 cores).
# Network: only the Debian mirror (debootstrap, apt) and whatever index pip is set up
# for. KAFKIFY_DEBIAN_MIRROR overrides the mirror.
set -euo pipefail

SELF="$(readlink -f "${BASH_SOURCE[0]}")"
HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME="${HOME:-/tmp}"
CACHE="${KAFKIFY_CACHE:-$HOME/.cache/kafkify}"
ROOTS="$CACHE/roots"
MIRROR="${KAFKIFY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ARCHIVE_MIRROR="http://archive.debian.org/debian"
MARKER=".kafkify-root-complete"
INCLUDE="python3,python3-venv,python3-pip,ca-certificates"

die() { echo "platform_root: $*" >&2; exit 1; }
say() { echo "platform_root: $*" >&2; }

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$SELF" >&2
    exit "${1:-2}"
}

# NAME -> "SUITE ARCH"
root_spec() {
    case "$1" in
        bookworm-arm64) echo "bookworm arm64" ;;
        bullseye-amd64) echo "bullseye amd64" ;;
        *) die "unknown root '$1' (known: bookworm-arm64, bullseye-amd64)" ;;
    esac
}

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, mount, chroot)"; }

host_arch() { dpkg --print-architecture; }

# Installs the given Debian packages if they are missing (apt-get update only if the
# install fails, e.g. on a machine whose package lists were never fetched).
apt_install_missing() {
    local pkg missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" \
        || { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }
}

# Registers qemu-aarch64 with binfmt_misc, with the F flag, from the line Debian's
# qemu-user-static ships in /usr/lib/binfmt.d (systemd-binfmt does not run here).
setup_binfmt_aarch64() {
    local bm=/proc/sys/fs/binfmt_misc entry conf line flags
    if [[ ! -e $bm/register ]]; then
        say "mounting binfmt_misc"
        mount -t binfmt_misc binfmt_misc "$bm"
    fi
    entry=$bm/qemu-aarch64
    if [[ ! -e $entry ]]; then
        conf=$(compgen -G '/usr/lib/binfmt.d/qemu-aarch64*.conf' | head -n1) \
            || die "no /usr/lib/binfmt.d/qemu-aarch64*.conf (is qemu-user-static installed?)"
        line=$(grep -m1 '^:qemu-aarch64:' "$conf") || die "no registration line in $conf"
        flags=${line##*:}
        [[ $flags == *F* ]] || line+="F"
        say "registering qemu-aarch64 with binfmt_misc (flags ${line##*:}) from $conf"
        printf '%s\n' "$line" >"$bm/register"
    fi
    grep -qx 'enabled' "$entry" || die "$entry is not enabled"
    grep -Eq '^flags:.*F' "$entry" \
        || die "$entry is registered without the F flag; remove it (echo -1 > $entry) and run again"
}

# Prints the mirror that serves SUITE: the configured one, else archive.debian.org.
pick_mirror() {
    local suite=$1
    if curl -fsS -o /dev/null --max-time 30 "$MIRROR/dists/$suite/InRelease"; then
        echo "$MIRROR"
    elif curl -fsS -o /dev/null --max-time 30 "$ARCHIVE_MIRROR/dists/$suite/InRelease"; then
        say "$suite is no longer on $MIRROR; using $ARCHIVE_MIRROR"
        echo "$ARCHIVE_MIRROR"
    else
        die "$suite is served neither by $MIRROR nor by $ARCHIVE_MIRROR"
    fi
}

# Fails if anything is mounted at or under DIR (so it is never rm -rf'd through a mount).
check_no_mounts_under() {
    local dir=$1
    if findmnt -rn -o TARGET | grep -Fq -- "$dir"; then
        die "something is mounted under $dir: $(findmnt -rn -o TARGET | grep -F -- "$dir" | tr '\n' ' ')"
    fi
}

# Writes the host's pip settings (files and PIP_* environment, as `pip config list`
# shows them) as the root's /etc/pip.conf, and copies any CA file they name. Settings
# that name a host path missing in the root (e.g. find-links to a host wheel dir) are
# left out.
copy_pip_config() {
    local target=$1 pip_cmd=() line key value section name
    if command -v pip >/dev/null 2>&1; then
        pip_cmd=(pip)
    elif python3 -m pip --version >/dev/null 2>&1; then
        pip_cmd=(python3 -m pip)
    fi
    local -A conf=()
    if ((${#pip_cmd[@]})); then
        while IFS= read -r line; do
            [[ $line == *=* ]] || continue
            key=${line%%=*}
            value=${line#*=}
            value=${value#\'}
            value=${value%\'}
            section=${key%%.*}
            name=${key#*.}
            # ':env:' means from a PIP_* variable; it is global there.
            [[ $section == :env: || $section == :env ]] && section=global
            conf["$section.$name"]=$value
        done < <("${pip_cmd[@]}" config list 2>/dev/null || true)
    fi
    {
        echo "# Written by scripts/platform_root.sh from the host's pip settings."
        local s k v
        for s in $(printf '%s\n' "${!conf[@]}" | cut -d. -f1 | sort -u); do
            echo "[$s]"
            for k in $(printf '%s\n' "${!conf[@]}" | grep "^$s\." | cut -d. -f2- | sort); do
                v=${conf["$s.$k"]}
                case $k in
                    cert | client-cert)
                        if [[ -f $v ]]; then
                            mkdir -p "$target$(dirname "$v")"
                            cp -L --remove-destination "$v" "$target$v"
                        fi
                        ;;
                    find-links)
                        # A host directory of wheels: not in the root (bind it and set it
                        # with --env PIP_FIND_LINKS=... if it is needed).
                        if [[ $v == /* ]]; then
                            say "pip: leaving out find-links=$v (a host path)"
                            continue
                        fi
                        ;;
                esac
                echo "$k = $v"
            done
        done
    } >"$target/etc/pip.conf"
    say "pip config in the root: $(grep -v '^#' "$target/etc/pip.conf" | tr '\n' ' ')"
}

# DNS, extra CA certificates (e.g. an egress proxy's) and pip settings from the host.
copy_host_config() {
    local target=$1 crt
    cp -L --remove-destination /etc/resolv.conf "$target/etc/resolv.conf"
    if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
        mkdir -p "$target/usr/local/share/ca-certificates"
        for crt in /usr/local/share/ca-certificates/*.crt; do
            cp -L "$crt" "$target/usr/local/share/ca-certificates/"
        done
        chroot "$target" /usr/sbin/update-ca-certificates >/dev/null
    fi
    copy_pip_config "$target"
    # The host's bundle as the root's, whether or not pip names it: it has the same
    # extra certificates the update above put in, and the same system ones.
    if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
        cp -L --remove-destination /etc/ssl/certs/ca-certificates.crt \
            "$target/etc/ssl/certs/ca-certificates.crt"
    fi
}

cmd_make() {
    (($# == 1)) || usage
    local name=$1 suite arch target mirror start elapsed include=$INCLUDE
    read -r suite arch < <(root_spec "$name")
    need_root
    target="$ROOTS/$name"
    if [[ -f $target/$MARKER ]]; then
        say "$name is already made at $target ($(grep '^make_seconds=' "$target/$MARKER" || true))"
        return 0
    fi
    start=$(date +%s)

    local pkgs=(debootstrap curl)
    local foreign=0
    if [[ $arch != "$(host_arch)" ]]; then
        foreign=1
        [[ $arch == arm64 ]] || die "no emulation set up for $arch"
        pkgs+=(qemu-user-static)
    fi
    apt_install_missing "${pkgs[@]}"
    ((foreign)) && setup_binfmt_aarch64
    mirror=$(pick_mirror "$suite")

    if [[ -e $target ]]; then
        say "removing the incomplete root $target"
        check_no_mounts_under "$target"
        rm -rf --one-file-system "$target"
    fi
    mkdir -p "$ROOTS"

    say "debootstrap $suite $arch into $target from $mirror"
    if ! debootstrap --variant=minbase --arch "$arch" --include="$include" \
        "$suite" "$target" "$mirror"; then
        ((foreign)) || die "debootstrap failed"
        # debootstrap could not run the second stage itself: do it in two steps.
        say "debootstrap failed; trying --foreign and then --second-stage in the chroot"
        check_no_mounts_under "$target"
        rm -rf --one-file-system "$target"
        debootstrap --foreign --variant=minbase --arch "$arch" --include="$include" \
            "$suite" "$target" "$mirror"
        chroot "$target" /debootstrap/debootstrap --second-stage
    fi
    check_no_mounts_under "$target"

    copy_host_config "$target"
    apt_clean_in_root "$target"

    elapsed=$(($(date +%s) - start))
    {
        echo "name=$name"
        echo "suite=$suite"
        echo "arch=$arch"
        echo "mirror=$mirror"
        echo "made=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "make_seconds=$elapsed"
    } >"$target/$MARKER"
    printf 'platform_root: made %s in %dm%02ds (%ds)\n' "$name" $((elapsed / 60)) $((elapsed % 60)) "$elapsed"
}

# The downloaded .debs are not needed once installed.
apt_clean_in_root() {
    rm -f "$1"/var/cache/apt/archives/*.deb
}

cmd_list() {
    local d
    for d in "$ROOTS"/*/; do
        [[ -d $d ]] || continue
        if [[ -f $d/$MARKER ]]; then
            echo "$(basename "$d") $(grep '^make_seconds=' "$d/$MARKER") $d"
        else
            echo "$(basename "$d") incomplete $d"
        fi
    done
}

# run: parse the options, then re-run this script in a private mount namespace, where
# __inner does the mounts and the chroot.
cmd_run() {
    (($# >= 1)) || usage
    local name=$1
    shift
    root_spec "$name" >/dev/null
    need_root
    local target="$ROOTS/$name"
    [[ -f $target/$MARKER ]] || die "$name is not made: scripts/platform_root.sh make $name"
    if unshare --mount --propagation private true 2>/dev/null; then
        exec unshare --mount --propagation private -- "$SELF" __inner "$name" "$@"
    fi
    say "unshare --mount does not work here; mounting in the host's namespace (trap unmounts)"
    cmd_inner "$name" "$@"
}

MOUNTED=()

unmount_all() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" 2>/dev/null \
            || say "could not unmount ${MOUNTED[i]}"
    done
    MOUNTED=()
}

# mount_in TARGETPATH mount-args...
mount_in() {
    local where=$1
    shift
    mount "$@" "$where"
    MOUNTED+=("$where")
}

cmd_inner() {
    local name=$1
    shift
    local target="$ROOTS/$name" binds=() envs=() spec host path
    while (($#)); do
        case $1 in
            --bind)
                (($# >= 2)) || die "--bind needs HOSTDIR:/PATH"
                binds+=("$2")
                shift 2
                ;;
            --bind=*)
                binds+=("${1#--bind=}")
                shift
                ;;
            --env)
                (($# >= 2)) || die "--env needs VAR=VALUE"
                envs+=("$2")
                shift 2
                ;;
            --env=*)
                envs+=("${1#--env=}")
                shift
                ;;
            --)
                shift
                break
                ;;
            *) die "run: unknown option '$1' (the command goes after --)" ;;
        esac
    done
    (($#)) || die "run: no command (scripts/platform_root.sh run NAME -- CMD...)"

    trap unmount_all EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    # DNS may have changed since the make.
    cp -L --remove-destination /etc/resolv.conf "$target/etc/resolv.conf"

    mount_in "$target/proc" -t proc proc
    mount_in "$target/sys" --bind /sys
    mount_in "$target/dev" --bind /dev
    mount_in "$target/dev/pts" --bind /dev/pts
    mount_in "$target/dev/shm" -t tmpfs -o mode=1777,nosuid,nodev shm
    for spec in "${binds[@]}"; do
        host=${spec%%:*}
        path=${spec#*:}
        [[ $spec == *:* && $path == /* && -n $host ]] || die "--bind wants HOSTDIR:/PATH, not '$spec'"
        [[ /$path/ != */../* ]] || die "--bind path must not contain '..': $path"
        [[ -e $host ]] || die "--bind: no $host on the host"
        if [[ -d $host ]]; then
            mkdir -p "$target$path"
        else
            mkdir -p "$(dirname "$target$path")"
            [[ -e $target$path ]] || touch "$target$path"
        fi
        mount_in "$target$path" --bind "$host"
    done

    local rc=0
    env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        "${envs[@]}" /usr/sbin/chroot "$target" "$@" || rc=$?
    unmount_all
    return "$rc"
}

# The CPython built into bullseye-amd64 by `python`: Debian bookworm's upstream tarball.
PY_VERSION=3.11.2
PY_TARBALL="python3.11_$PY_VERSION.orig.tar.gz"
PY_URL="$MIRROR/pool/main/p/python3.11/$PY_TARBALL"
PY_SIZE=26437858
PY_SHA256=2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849
PY_PREFIX=/opt/python3.11
PY_MARKER=.kafkify-python-complete
PY_BUILD_DEPS=(build-essential libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev
    libsqlite3-dev libreadline-dev)

# Downloads the CPython tarball into the cache (once) and checks its size and sha256.
fetch_python_tarball() {
    local file="$CACHE/$PY_TARBALL" size
    mkdir -p "$CACHE"
    if [[ ! -f $file ]]; then
        say "downloading $PY_URL"
        curl -fsSL --retry 3 -o "$file.part" "$PY_URL"
        mv "$file.part" "$file"
    fi
    size=$(stat -c %s "$file")
    [[ $size == "$PY_SIZE" ]] || { rm -f "$file"; die "$PY_TARBALL is $size bytes, not $PY_SIZE (removed)"; }
    echo "$PY_SHA256  $file" | sha256sum -c --quiet - \
        || { rm -f "$file"; die "$PY_TARBALL has the wrong sha256 (removed)"; }
    echo "$file"
}

cmd_python() {
    (($# == 1)) || usage
    local name=$1 target tarball start elapsed src=/usr/src/kafkify-python-build
    root_spec "$name" >/dev/null
    [[ $name == bullseye-amd64 ]] || die "python: only for bullseye-amd64 (the others have a Python >= 3.10)"
    need_root
    target="$ROOTS/$name"
    [[ -f $target/$MARKER ]] || die "$name is not made: scripts/platform_root.sh make $name"

    if [[ -f $target$PY_PREFIX/$PY_MARKER ]]; then
        say "$PY_PREFIX is already built in $name ($(grep '^build_seconds=' "$target$PY_PREFIX/$PY_MARKER" || true))"
    else
        start=$(date +%s)
        apt_install_missing curl
        tarball=$(fetch_python_tarball)
        say "installing the build deps in $name: ${PY_BUILD_DEPS[*]}"
        "$SELF" run "$name" --env DEBIAN_FRONTEND=noninteractive -- \
            bash -c 'apt-get install -y --no-install-recommends "$@" \
                || { apt-get update && apt-get install -y --no-install-recommends "$@"; }' \
            apt-get "${PY_BUILD_DEPS[@]}"
        apt_clean_in_root "$target"

        check_no_mounts_under "$target$src"
        rm -rf --one-file-system "${target:?}$src" "${target:?}$PY_PREFIX"
        mkdir -p "$target$src"
        tar -xzf "$tarball" -C "$target$src" --strip-components=1 --no-same-owner
        say "building CPython $PY_VERSION in $name into $PY_PREFIX (make -j2)"
        "$SELF" run "$name" -- bash -ec "cd $src
            ./configure --prefix=$PY_PREFIX --with-ensurepip=install >configure.log 2>&1 || { tail -n 50 configure.log; exit 1; }
            make -j2 >make.log 2>&1 || { tail -n 50 make.log; exit 1; }
            make install >install.log 2>&1 || { tail -n 50 install.log; exit 1; }"
        rm -rf --one-file-system "${target:?}$src"
        elapsed=$(($(date +%s) - start))
        {
            echo "version=$PY_VERSION"
            echo "source=$PY_URL"
            echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
            echo "build_seconds=$elapsed"
        } >"$target$PY_PREFIX/$PY_MARKER"
        printf 'platform_root: built CPython %s in %s in %dm%02ds (%ds)\n' \
            "$PY_VERSION" "$name" $((elapsed / 60)) $((elapsed % 60)) "$elapsed"
    fi

    say "checks"
    "$SELF" run "$name" -- bash -ec "$PY_PREFIX/bin/python3.11 -c 'import ssl, sys, platform, ctypes; print(sys.version, platform.libc_ver(), ssl.OPENSSL_VERSION)'
        ldd $PY_PREFIX/bin/python3.11"
}

main() {
    (($#)) || usage
    local cmd=$1
    shift
    case $cmd in
        make) cmd_make "$@" ;;
        run) cmd_run "$@" ;;
        list) cmd_list ;;
        python) cmd_python "$@" ;;
        python-source) fetch_python_tarball ;;
        __inner) cmd_inner "$@" ;;
        -h | --help | help) usage 0 ;;
        *) usage ;;
    esac
}

main "$@"
