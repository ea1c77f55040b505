# kdap: build, demo and tests. `make demo` and `make test` are the two
# commands of the README.
GO ?= go
DEMO_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kdap-demo
DEMO_FIXTURE = testdata/fbsdkern/fixtures/fp/assert

.PHONY: all build demo test test-go test-editors lint fixtures bench

all: build

build:
	$(GO) build -o bin/kdap ./cmd/kdap

# Opens the bundled demo dump (a FreeBSD/amd64 minidump of the fixture
# kernel) and prints what savecore's core.txt would: panic, threads, messages.
demo: build
	@mkdir -p $(DEMO_DIR)
	@gunzip -c $(DEMO_FIXTURE)/vmcore.mini.gz > $(DEMO_DIR)/vmcore.0
	@gunzip -c testdata/fbsdkern/fixtures/fp/kernel.debug.gz > $(DEMO_DIR)/kernel.debug
	./bin/kdap info $(DEMO_DIR)/vmcore.0 $(DEMO_DIR)/kernel.debug
	./bin/kdap threads $(DEMO_DIR)/vmcore.0 $(DEMO_DIR)/kernel.debug
	./bin/kdap bt $(DEMO_DIR)/vmcore.0 $(DEMO_DIR)/kernel.debug

# Every test: formatting and vet, Go tests (with the race detector off to
# fit CI's two cores), and the editor end-to-end tests when npm is present.
test: lint test-go test-editors

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

test-go:
	$(GO) test -count=1 ./...

test-editors: build
	@if [ -f editors/vscode/test/package.json ] && command -v npm >/dev/null; then \
		tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
		gunzip -c testdata/fbsdkern/fixtures/fp/assert/vmcore.mini.gz > $$tmp/vmcore.mini && \
		gunzip -c testdata/fbsdkern/fixtures/fp/kernel.debug.gz > $$tmp/kernel.debug && \
		cd editors/vscode/test && npm ci --no-audit --no-fund --silent && \
		KDAP_BIN=$(CURDIR)/bin/kdap KDAP_CORE=$$tmp/vmcore.mini KDAP_KERNEL=$$tmp/kernel.debug \
		KDAP_EXPECT=fbsdkern-fp-assert npm test; \
	else echo "test-editors: skipped (no npm or no editor tests)"; fi

fixtures:
	$(MAKE) -C testdata/fbsdkern fixtures

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1s ./target/... ./session/... ./unwind/... ./dap/... ./cmd/...
