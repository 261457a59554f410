#!/usr/bin/env bash
# Builds a private arm64 sysroot for cross-compiling Ember to aarch64 Linux, without
# installing any :arm64 package system-wide (that breaks the amd64 -dev packages and
# makes OpenMP programs hang under qemu; see shared/TOOLCHAIN.md).
#
#   scripts/arm-sysroot.sh [DIR]     default DIR: build-arm-sysroot/ in the repo (git-ignored)
#
# How: apt-get runs with its own state directory and APT::Architecture=arm64, so it reads
# arm64 package lists from the system's Debian sources but never touches dpkg's database.
# It resolves the arm64 closure of the libraries meson.build asks for, minus what the
# cross toolchain (g++-aarch64-linux-gnu: libc6, libstdc++6, libgcc-s1, libgomp1) already
# provides, then `apt-get download`s those .debs and `dpkg -x`es them into DIR/root.
# It also writes DIR/paths.ini, the machine file that tells scripts/cross/aarch64-linux-gnu.ini
# where the sysroot is (meson lets a later --cross-file use an earlier file's constants).
#
# Idempotent: a finished sysroot (DIR/root/.complete, made from the same package list)
# is left alone. Needs network access to the Debian mirror the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
dir=${1:-$repo/build-arm-sysroot}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
root=$dir/root

# The arm64 libraries Ember links against (top-level meson.build), and the header-only /
# arch-independent ones whose .pc / cmake files must be visible to the cross pkg-config.
# ocl-icd-opencl-dev: Debian's oneDNN cmake config insists on finding OpenCL.
WANTED=(
  libdnnl-dev ocl-icd-opencl-dev libsentencepiece-dev libcpp-httplib-dev libpcre2-dev libutf8proc-dev
  libcli11-dev doctest-dev nlohmann-json3-dev
)
# Provided by the cross toolchain under /usr/aarch64-linux-gnu: marked installed in the
# private dpkg status so apt does not pull them (or their dependency trees) in.
PROVIDED=(gcc-12-base libgcc-s1 libc6 libc6-dev libstdc++6 libgomp1)

stamp_text="${WANTED[*]} | ${PROVIDED[*]}"
if [ -f "$root/.complete" ] && [ "$(cat "$root/.complete")" = "$stamp_text" ]; then
  echo "arm-sysroot: $root is up to date"
else
  for tool in apt-get apt-cache dpkg; do
    command -v $tool >/dev/null || { echo "arm-sysroot: $tool not found (Debian/Ubuntu only)" >&2; exit 1; }
  done
  apt_dir=$dir/apt
  mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial" "$dir/debs"
  : >"$apt_dir/status"
  apt_opts=(
    -o Dir::State="$apt_dir/state" -o Dir::State::status="$apt_dir/status" -o Dir::Cache="$apt_dir/cache"
    -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Debug::NoLocking=1
    -o APT::Sandbox::User=root -q
  )
  echo "arm-sysroot: reading arm64 package lists into $apt_dir"
  apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 || {
    cat "$apt_dir/update.log" >&2
    exit 1
  }

  # Fake "installed" entries for the toolchain-provided packages: their real stanzas minus
  # the relationship fields, so apt sees them satisfied and does not expand their deps.
  for p in "${PROVIDED[@]}"; do
    apt-cache "${apt_opts[@]}" show --no-all-versions "$p" |
      grep -vE '^(Depends|Pre-Depends|Recommends|Suggests|Breaks|Conflicts|Replaces):' |
      sed '/^$/d' | sed '1a Status: install ok installed'
    echo
  done >"$apt_dir/status"

  mapfile -t debs < <(apt-get "${apt_opts[@]}" -s install --no-install-recommends "${WANTED[@]}" |
    awk '/^Inst /{print $2}')
  if ((${#debs[@]} == 0)); then
    echo "arm-sysroot: apt resolved no packages for: ${WANTED[*]}" >&2
    apt-get "${apt_opts[@]}" -s install --no-install-recommends "${WANTED[@]}" >&2 || true
    exit 1
  fi
  echo "arm-sysroot: downloading ${#debs[@]} arm64 packages: ${debs[*]}"
  rm -f "$dir"/debs/*.deb
  (cd "$dir/debs" && apt-get "${apt_opts[@]}" -qq download "${debs[@]}")

  rm -rf "$root"
  mkdir -p "$root"
  for deb in "$dir"/debs/*.deb; do dpkg -x "$deb" "$root"; done
  # Debian's -dev symlinks may be absolute (/lib/aarch64-linux-gnu/libz.so.1...): point
  # them inside the sysroot, or the linker would follow them to the host's files.
  while IFS= read -r link; do
    target=$(readlink "$link")
    ln -sfn "$root$target" "$link"
  done < <(find "$root" -type l -lname '/*')
  echo "$stamp_text" >"$root/.complete"
  echo "arm-sysroot: $root ready ($(du -sh "$root" | cut -f1))"
fi

cat >"$dir/paths.ini" <<EOF
# Written by scripts/arm-sysroot.sh. Pass it before scripts/cross/aarch64-linux-gnu.ini:
#   meson setup build-arm --cross-file $dir/paths.ini --cross-file scripts/cross/aarch64-linux-gnu.ini
[constants]
sysroot = '$root'
EOF
