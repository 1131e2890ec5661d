# shellcheck shell=bash disable=SC2034
# remprof kernel lab: helpers shared by lab/kernel/check-patch and lab/kernel/run.
# Sourced, not executed. Everything heavy lives in $LAB_CACHE, outside the clone.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_DIR/../.." && pwd)
LAB_PATCHES=("$LAB_DIR"/patches/*.patch)
LAB_FRAGMENT=$LAB_DIR/config.fragment
LAB_DEBUG_FRAGMENT=$LAB_DIR/debug.fragment
LINUX_PKG=linux-source-6.12
LINUX_TARBALL=/usr/src/linux-source-6.12.tar.xz

if [ -n "${REMPROF_LAB_CACHE:-}" ]; then
	LAB_CACHE=$REMPROF_LAB_CACHE
elif [ "$(id -u)" = 0 ]; then
	LAB_CACHE=/var/cache/remprof-lab
else
	LAB_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/remprof-lab
fi
case "$LAB_CACHE/" in
"$REPO_DIR"/*) echo "lab: the cache ($LAB_CACHE) must be outside the clone" >&2; exit 2 ;;
esac
mkdir -p "$LAB_CACHE"

log() { printf '[lab %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Install the Debian packages given as arguments that are missing.
need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		log "missing packages: ${missing[*]} (run as root or install them)"
		return 1
	fi
	log "installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >"$LAB_CACHE/apt.log" 2>&1 || {
		log "apt-get install failed; see $LAB_CACHE/apt.log"
		return 1
	}
}

KBUILD_PKGS=(build-essential bc bison flex libelf-dev libssl-dev cpio xz-utils kmod python3)

# Unpack the pristine source once into $LAB_CACHE/src/linux-source-6.12 (read-only
# afterwards; trees are hard-link copies of it). Prints its path.
pristine_src() {
	local dir=$LAB_CACHE/src stamp ver
	ver=$(dpkg-query -W -f='${Version}' "$LINUX_PKG")
	stamp=$dir/.unpacked-$ver
	if [ ! -f "$stamp" ]; then
		log "unpacking $LINUX_TARBALL ($ver)"
		rm -rf "$dir" && mkdir -p "$dir"
		tar -C "$dir" -xf "$LINUX_TARBALL"
		touch "$stamp"
	fi
	echo "$dir/linux-source-6.12"
}

# Files a patch touches (paths relative to the tree root).
patch_files() {
	sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$@" | sort -u
}

# Bring tree $1 (a hard-link copy of the pristine source) to state $2:
# "stock" or "patched" (all of $LAB_PATCHES applied). The patch applied last is
# kept in $1/.remprof-applied.patch so it can be reverted even if the patch in
# the clone changed since. Reverting or applying gives the touched files a new
# mtime, so every build dir of the tree recompiles exactly those files.
tree_state() {
	local tree=$1 want=$2 applied=$1/.remprof-applied.patch
	if [ -f "$applied" ]; then
		if [ "$want" = patched ] && cat "${LAB_PATCHES[@]}" | cmp -s - "$applied"; then
			return 0
		fi
		log "reverting the applied patch in $tree"
		(cd "$tree" && patch -p1 -R -s --no-backup-if-mismatch <"$applied") || {
			log "cannot revert $applied"
			return 1
		}
		rm -f "$applied"
	fi
	[ "$want" = stock ] && return 0
	log "applying ${LAB_PATCHES[*]##*/}"
	(cd "$tree" && cat "${LAB_PATCHES[@]}" | patch -p1 -s --no-backup-if-mismatch) || {
		log "patch does not apply"
		return 1
	}
	cat "${LAB_PATCHES[@]}" >"$applied"
}

# Make a hard-link copy of the pristine source at $1 if it does not exist.
make_tree() {
	local tree=$1 src
	[ -d "$tree" ] && return 0
	src=$(pristine_src)
	log "creating tree $tree"
	mkdir -p "$(dirname "$tree")"
	cp -al "$src" "$tree.tmp" && mv "$tree.tmp" "$tree"
}

# Configure build dir $2 (relative to tree $1) from tinyconfig + fragments
# ($3...), unless it is already configured from the same fragments.
configure() {
	local tree=$1 bdir=$2 sum line
	shift 2
	sum=$(cat "$@" | sha256sum | cut -c1-16)
	if [ -f "$tree/$bdir/.config" ] && [ "$(cat "$tree/$bdir/.remprof-config" 2>/dev/null)" = "$sum" ]; then
		return 0
	fi
	log "configuring $tree/$bdir (tinyconfig + ${*##*/})"
	mkdir -p "$tree/$bdir"
	(
		cd "$tree" &&
			make -s O="$bdir" ARCH=x86_64 tinyconfig >/dev/null &&
			scripts/kconfig/merge_config.sh -m -O "$bdir" "$bdir/.config" "$@" >/dev/null &&
			make -s O="$bdir" ARCH=x86_64 olddefconfig >/dev/null
	) || return 1
	for line in $(cat "$@" | grep -E '^CONFIG_[A-Z0-9_]+='); do
		grep -qx "$line" "$tree/$bdir/.config" || {
			log "config: $line did not survive olddefconfig"
			return 1
		}
	done
	echo "$sum" >"$tree/$bdir/.remprof-config"
}

# nice'd kernel make in tree $1, build dir $2, targets $3...
kmake() {
	local tree=$1 bdir=$2
	shift 2
	(cd "$tree" && nice -n 19 make -s O="$bdir" ARCH=x86_64 -j2 "$@")
}

# Serialize everything that touches $LAB_CACHE trees.
lab_lock() {
	exec 9>"$LAB_CACHE/.lock"
	if ! flock -n 9; then
		log "waiting for another lab run to finish ($LAB_CACHE/.lock)"
		flock 9
	fi
}
