# SPDX-License-Identifier: GPL-2.0
#
# The two commands a newcomer needs are `make run` and `make test`; the harness (harness/)
# does the work. Both install what is missing on a Debian 12 machine when run as root.

CARGO ?= $(shell command -v cargo 2>/dev/null || echo $(HOME)/.cargo/bin/cargo)
HARNESS := target/release/harness

.PHONY: run test bench stress patches harness series-edit series-regen series-rebase series-check

# `make test STAGES="build boot"` runs only those stages (see `harness` without arguments).
STAGES ?=

test: harness
	$(HARNESS) test $(STAGES)

# `make stress`: the long budgets (fuzzer, kills, module cycles) on the stress kernel.
run stress patches: harness
	$(HARNESS) $@

# `make bench PROFILE=1`: profile binder-bench's cases with perf in the guest instead
# (out/bench/profile.txt).
PROFILE ?=

bench: harness
	$(HARNESS) bench $(if $(PROFILE),--profile)

# Changing the series with git (README, "Changing the series"): a work tree of the base with
# one commit per patch; series/ written back from it; a rebase onto another base version; a
# build of every prefix of the series.
FORCE ?=
BASE ?=

series-edit: harness
	$(HARNESS) series-edit $(if $(FORCE),--force)

DOCTESTS ?=

series-regen: harness
	$(HARNESS) $@

series-check: harness
	$(HARNESS) series-check $(if $(DOCTESTS),--doctests)

series-rebase: harness
	$(HARNESS) series-rebase "$(BASE)"

harness:
	@if ! [ -x "$(CARGO)" ]; then \
		echo "cargo is missing: install Rust with rustup (https://rustup.rs) or 'apt-get install cargo'"; \
		exit 1; \
	fi
	@$(CARGO) build --quiet --release -p harness
