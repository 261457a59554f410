#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for Ember and builds it.
#   scripts/setup.sh               install packages, configure, build
#   scripts/setup.sh --install-only   only the package installs (used by .ci/run)
#   scripts/setup.sh --build-only     only configure + build
# Idempotent: re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=all
case "${1:-}" in
  --install-only) mode=install ;;
  --build-only) mode=build ;;
  "") ;;
  *) echo "usage: $0 [--install-only|--build-only]" >&2; exit 2 ;;
esac

APT_PACKAGES=(
  # build
  meson ninja-build cmake pkg-config g++ git
  # libraries (see docs/architecture.md for who uses which). Debian's oneDNN cmake config
  # insists on finding OpenCL (its GPU runtime), hence the two OpenCL packages.
  libdnnl-dev ocl-icd-opencl-dev opencl-headers libsentencepiece-dev libcli11-dev doctest-dev nlohmann-json3-dev
  libcpp-httplib-dev libpcre2-dev libutf8proc-dev
  # references used by the tests (numpy forward, sentencepiece, jinja2)
  python3 python3-numpy python3-jinja2 python3-sentencepiece
  # test drivers
  tmux
  # ARM: cross compiler + qemu-user for scripts/test-arm.sh (docs/arm.md)
  g++-aarch64-linux-gnu qemu-user
)
# node/npm may come from elsewhere (e.g. a newer nodesource build); Debian's npm
# conflicts with those, so only ask apt for them when the commands are missing.
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)

install_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "setup: all Debian packages present"
  fi
  if [ -f package.json ]; then
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
      echo "setup: npm ci"
      npm ci --no-audit --no-fund
    fi
  fi
}

build() {
  if [ ! -f build/build.ninja ]; then
    meson setup build
  fi
  ninja -C build
}

case "$mode" in
  install) install_packages ;;
  build) build ;;
  all) install_packages; build ;;
esac
