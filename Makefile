# imrelay — every target a developer or CI needs. `make check` is exactly
# what CI runs (.ci/run).

GO        ?= go
WASMFLAGS := -trimpath -buildvcs=false -buildmode=c-shared -ldflags='-s -w -buildid='
# Every folder with a main.go that becomes a .wasm: the plugins, the host's
# fixture modules and the SDK's (sdk/bench). Each builds to
# <folder>/<folder name>.wasm.
WASM_DIRS := $(sort $(dir $(wildcard plugins/*/main.go proxy/wasmhost/testdata/*/main.go sdk/*/testdata/*/main.go)))

.PHONY: run test check plugins plugins-check fmt vet tidy-check bench fuzz
.PHONY: bench-relay bench-smoke

run:
	$(GO) run ./cmd/imrelay serve

# The first step compiles every committed module into the shared cache
# without -race: under -race the wazero compiler is instrumented too, and a
# cold compile takes 30-60 s a module instead of ~1 s.
#
# wazero stamps each cache entry with its version, read from the binary's
# build info: test binaries report "dev", real binaries the go.mod version,
# and an entry stamped by the other kind is recompiled and overwritten. The
# -X flag makes test binaries report the real version, so tests, the warm-up
# and any imrelay binary a test builds share one set of entries.
WAZERO_VERSION = $(shell $(GO) list -m -f '{{.Version}}' github.com/tetratelabs/wazero)
TESTFLAGS = -ldflags=-X=github.com/tetratelabs/wazero/internal/version.version=$(WAZERO_VERSION)

test:
	$(GO) test $(TESTFLAGS) -count=1 -run '^TestCommittedModulesLoad$$' ./proxy/wasmhost
	$(GO) test $(TESTFLAGS) -race -shuffle=on ./...

plugins:
	@set -e; for d in $(WASM_DIRS); do \
		name=$$(basename $$d); \
		echo "wasm $$d$$name.wasm"; \
		(cd $$d && GOOS=wasip1 GOARCH=wasm $(GO) build $(WASMFLAGS) -o $$name.wasm .); \
	done

# Rebuilds every module and fails if any differs from what is committed.
plugins-check: plugins
	@git diff --exit-code --stat -- '*.wasm' || { echo "built .wasm files differ from the committed ones: run 'make plugins' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- '*.wasm')" || { git status --porcelain -- '*.wasm'; echo "uncommitted .wasm files: run 'make plugins' and commit"; exit 1; }

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$out" || { echo "gofmt needed:"; echo "$$out"; exit 1; }

vet:
	$(GO) vet ./...

tidy-check:
	@tmp=$$(mktemp -d); cp go.mod go.sum $$tmp/; \
	$(GO) mod tidy; \
	if ! git diff --quiet -- go.mod go.sum; then git --no-pager diff -- go.mod go.sum; cp $$tmp/go.mod $$tmp/go.sum .; echo "go.mod/go.sum not tidy: run 'go mod tidy'"; exit 1; fi

check: fmt vet tidy-check plugins-check test

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Runs every fuzz target of the module (each decoder's FuzzDecodeRequest and
# the rest) for FUZZTIME each. Not part of make check.
FUZZTIME ?= 30s
fuzz:
	@set -e; for d in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$d/*_test.go | sed 's/^func //'); do \
			echo "fuzz $$d $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$d; \
		done; \
	done

# Benchmarks against the upstream and the peers, on loopback (bench/README.md).
# BENCH_DURATION is the measured time per target.
BENCH_DURATION ?= 10s
# BENCH_OUT=<dir> writes the results elsewhere; BENCH_FLAGS passes more flags
# to `bench run` (see `go run ./bench run -h`).
BENCH_OUT ?= bench/results
BENCH_FLAGS ?=
NJS_MODULE     := /usr/lib/nginx/modules/ngx_http_js_module.so

bench-relay:
	@command -v nginx >/dev/null && test -f $(NJS_MODULE) || apt-get install -y nginx libnginx-mod-http-js njs || echo "nginx + njs not installed: the run skips that peer"
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(GO) build -o "$$tmp/bench" ./bench && "$$tmp/bench" run $(BENCH_FLAGS) -duration $(BENCH_DURATION) -out $(BENCH_OUT)

# bench-relay with the Traefik v3.6.12 + wasm plugin peer (bench/README.md).
# The first run builds Traefik from module source, about 9 minutes and a
# 245 MB binary, cached under $IMRELAY_CACHE or the user cache dir
# (imrelay/traefik-v3.6.12). Not part of check.
.PHONY: bench-traefik
bench-traefik:
	@$(MAKE) --no-print-directory bench-relay BENCH_FLAGS=-traefik

# Checks that the benchmark machinery works end to end; asserts no figure.
# About 10 s on 2 cores, so CI runs it as part of check.
check: bench-smoke

bench-smoke:
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(GO) build -o "$$tmp/bench" ./bench && "$$tmp/bench" run -smoke -out "$$tmp/results"

# Load through every pair for SOAK (default 10m), asserting that RSS and
# plugin memory stay flat (proxy/e2e TestSoak). Not part of `make check`.
SOAK ?= 10m
.PHONY: soak
soak:
	IMRELAY_SOAK=$(SOAK) $(GO) test -run '^TestSoak$$' -count=1 -timeout 0 -v ./proxy/e2e
