#!/usr/bin/env bash
# Installs what NeuralCodec needs on a fresh Debian machine (idempotent) and builds it in release mode.
# Usage: scripts/setup.sh            (apt packages if missing, then `swift build -c release`)
set -euo pipefail
cd "$(dirname "$0")/.."

# C libraries (through pkg-config) and the tools the scripts and tests use.
packages=(pkg-config libsndfile1-dev libfftw3-dev libsoxr-dev zlib1g-dev sox espeak-ng opus-tools)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

command -v swift >/dev/null || { echo "setup: swift is not on PATH (Swift 6.x toolchain required)" >&2; exit 1; }
swift build -c release --product codec 2>&1 | tail -n 3
echo "setup: built $(pwd)/.build/release/codec" >&2
