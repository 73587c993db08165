# redkit — common tasks. `make help` lists them.

CARGO ?= cargo
PYTHON ?= python3

.PHONY: help build fmt lint test fixtures bench fuzz-build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

build: ## release build of the redkit binary (target/release/redkit)
	$(CARGO) build --release --locked -p redkit

fmt: ## format the code
	$(CARGO) fmt --all

lint: ## rustfmt check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

test: ## install the test servers if missing, then run every test
	bash scripts/install-servers.sh
	# Every file a test (or the build) writes stays under 2 GiB: a regression cannot fill a disk.
	ulimit -f 2097152 && REDKIT_REQUIRE_SERVERS=1 $(CARGO) test --workspace --locked
	$(MAKE) fuzz-build

fuzz-build: ## build the fuzz targets (fuzz/ is outside the workspace)
	$(CARGO) build --manifest-path fuzz/Cargo.toml --locked

fixtures: ## regenerate testdata/ with the real servers
	bash scripts/install-servers.sh
	$(PYTHON) testdata/gen/make_rdb.py
	$(PYTHON) testdata/gen/make_corrupt.py
	$(PYTHON) testdata/gen/make_aof.py

bench: build ## build ~1 GiB RDBs and an AOF with redis-server; time redkit beside redis-check-rdb/-aof
	bash scripts/install-servers.sh
	bash bench/run.sh
	bash bench/aof.sh
	bash bench/patterns.sh
	bash bench/analyze.sh
	bash bench/salvage.sh
	bash bench/split.sh
