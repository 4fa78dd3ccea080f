# hibiki: `make test` installs what the tests need on a fresh Debian machine
# (as root) and runs every test, including the real-Chromium ones.

GO      ?= go
WEB     := examples/web
# A duration can fail a clean run with "context deadline exceeded" on a
# loaded machine (golang/go#75804, unfixed in Go 1.26); an execution count
# cannot, so CI uses one.
FUZZTIME ?= 30s
# Minimizing each new interesting input for the default 60 s stalls short
# runs; a bounded number of tries keeps every run fuzzing.
FUZZMIN  ?= 20x
# Fuzzing workers (go's default is one per core).
FUZZPAR  ?= 2

.PHONY: test deps vet unit jscheck bwe bwe-smoke fuzz fuzz-smoke bench bench-micro build media

test: deps vet jscheck unit bwe-smoke fuzz-smoke

# System packages: Chromium for the browser tests, iproute2 for the network
# namespaces they run in, nftables for the connectivity tests' packet
# filters (e2e/netns), redis-server for the cluster tests (cluster/, e2e).
# Installed only when missing.
deps:
	@command -v chromium >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1 && command -v nft >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1 || { \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium iproute2 util-linux nftables fonts-liberation redis-server >/dev/null; }
	$(GO) mod download

vet:
	$(GO) vet ./...

# -p 1: the end-to-end packages measure freezes in real time; run them one
# at a time so they do not starve each other of the CI machine's two cores.
unit:
	$(GO) test -race -p 1 -timeout 18m ./...

# Bandwidth-estimation scenarios on a pion vnet (e2e/bwe, docs/bwe.md):
# timing measurements, so without -race. bwe runs all seven BWEROUNDS times
# and writes e2e/out/*.csv (go run ./cmd/bweplot draws them); bwe-smoke,
# part of make test, runs the capped-link upswitch, which has never missed
# its bound here (3.7-5.5 s against 10 s).
BWEROUNDS ?= 3
bwe:
	HIBIKI_BWE_SCENARIOS=1 $(GO) test -count=$(BWEROUNDS) -v -timeout 15m ./e2e/bwe/

bwe-smoke:
	HIBIKI_BWE_SCENARIOS=1 $(GO) test -count=1 -run 'TestScenario2' ./e2e/bwe/

# JSDoc types of the browser client, checked by TypeScript from npm.
jscheck:
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error && npx tsc -p tsconfig.json

build:
	$(GO) build -o bin/ ./cmd/...

# Every fuzz target for FUZZTIME each (go test runs one target at a time).
# `go test` (make unit) already runs every committed seed corpus once.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMIN) -parallel $(FUZZPAR) $$pkg || exit 1; \
		done; \
	done

# CI: every fuzz target for a few thousand executions (seconds) beyond its
# seed corpus, on one worker (the machine is shared).
fuzz-smoke:
	$(MAKE) fuzz FUZZTIME=4000x FUZZPAR=1

# Microbenchmarks of the packet path and signaling (0 allocs/op expected on
# the forwarding path).
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./sfu/ ./signaling/

# Load benchmark: server and bots as separate processes, server CPU per
# forwarded packet and RSS per subscription from /proc, next to this
# machine's floor. BENCH_ARGS adds flags, e.g. BENCH_ARGS='--repeat 3' or
# BENCH_ARGS='--run "--scenario webinar --subscribers 200 --ramp 20/s"'.
BENCH_ARGS ?=
bench:
	$(GO) build -o bin/ ./cmd/hibiki ./cmd/hibiki-bots ./cmd/hibiki-bench
	bin/hibiki-bench --server bin/hibiki --bots bin/hibiki-bots --md bin/bench.md $(BENCH_ARGS)

# Re-make the bots' committed VP8/Opus clips (cmd/hibiki-bots/media/gen.sh)
# with Debian's ffmpeg; only needed to change them.
media:
	@command -v ffmpeg >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null; }
	bash cmd/hibiki-bots/media/gen.sh
