#!/usr/bin/env bash
# Installs the Debian 12 packages asi-emu needs, only when something is missing.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  clang-14 lld-14 libclang-rt-14-dev          # guest kernel toolchain, libFuzzer
  libunicorn-dev libcapstone-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  qemu-system-x86                              # cross-checks the guest on a second machine
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
