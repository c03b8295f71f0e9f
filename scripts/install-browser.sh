#!/usr/bin/env bash
# Make sure a headless Chromium is there for the browser tests (Debian's package).
# Never downloads a browser build of its own; uses the system package manager.
# Under CI=true a browser that cannot be installed is an error (the tests would fail anyway;
# this says why, first).
set -u
for b in chromium chromium-browser; do
  if command -v "$b" >/dev/null 2>&1; then exit 0; fi
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..."
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
  command -v chromium >/dev/null 2>&1 && exit 0
fi
echo "No chromium found: the browser tests will be skipped (they fail under CI=true)." >&2
echo "Install it with:  sudo apt-get install chromium" >&2
case "${CI:-}" in
  1|true|TRUE|True|yes) exit 1 ;;
esac
exit 0
