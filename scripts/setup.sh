#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fresh-machine set-up: installs the Debian packages, builds Moonwire and
# its web editor, and runs the main job on its defaults (scripts/demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build
bash scripts/editor.sh --optional
bash scripts/demo.sh
