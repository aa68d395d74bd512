#!/usr/bin/env bash
# clang-format (style: .clang-format) over the project's C and C++ sources, the tracked and the new
# untracked ones (git ls-files, so build output is never touched).
#   bash scripts/clang-format.sh check   fails, listing each difference, unless all are formatted (npm run lint)
#   bash scripts/clang-format.sh fix     rewrites them in place (npm run format)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v clang-format >/dev/null; then
  echo "clang-format is not installed (Debian: apt-get install clang-format)" >&2
  exit 1
fi

mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
  'native/*.h' 'native/*.hpp' 'native/*.cc' 'native/*.cpp' 'bench/c/*.c' 'bench/c/*.h')
if [ "${#files[@]}" -eq 0 ]; then
  echo "clang-format: no C/C++ sources found" >&2
  exit 1
fi

case "${1:-}" in
  check) clang-format --dry-run -Werror "${files[@]}" && echo "clang-format: ${#files[@]} files formatted" ;;
  fix) clang-format -i "${files[@]}" ;;
  *)
    echo "usage: bash scripts/clang-format.sh check|fix" >&2
    exit 2
    ;;
esac
