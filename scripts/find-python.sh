#!/usr/bin/env bash
# Print the path of a Python >= 3.12 interpreter, or explain what to do and exit 1.
# Order: $PYTHON if set, python3.13, python3.12, python3, then pyenv-installed 3.12+.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
for c in ${PYTHON:-} python3.13 python3.12 python3; do
  if command -v "$c" >/dev/null 2>&1 && ok "$c"; then command -v "$c"; exit 0; fi
done
if command -v pyenv >/dev/null 2>&1; then
  # 3.12 first among pyenv versions: the version the whole stack was verified on.
  for c in $(ls -d "$(pyenv root)"/versions/3.12*/bin/python3 "$(pyenv root)"/versions/3.1[3-9]*/bin/python3 2>/dev/null); do
    if ok "$c"; then echo "$c"; exit 0; fi
  done
fi
cat >&2 <<'MSG'
privmarket needs Python 3.12 or newer, and none was found
(tried $PYTHON, python3.13, python3.12, python3 and pyenv's versions).
Install one, for example:
  Debian/Ubuntu:  sudo apt-get install python3.12 python3.12-venv
  pyenv:          pyenv install 3.12
  macOS:          brew install python@3.12
then run the command again, or point PYTHON at it:  make PYTHON=/path/to/python3.12 ...
MSG
exit 1
