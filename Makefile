# kdap: build, demo and tests. `make demo` and `make test` are the two
# commands of the README.
GO ?= go
DEMO_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kdap-demo
DEMO_FIXTURE = testdata/fbsdkern/fixtures/fp/assert

.PHONY: all build demo test test-go test-editors lint fixtures bench fuzz fuzz-short fuzz-run

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
# The editor tests run even when Go tests fail; make test fails if either
# did, and ends with the Go tests' summary: how many passed, failed and
# were skipped, and why each skipped test was (a fixture or tool is absent,
# and the command that gets it). KDAP_REQUIRE_FIXTURES=1 (set by .ci/run)
# turns those absences into failures.
TEST_SUMMARY = bin/test-summary.txt

test: lint
	@rm -f $(TEST_SUMMARY); status=0; \
	$(MAKE) --no-print-directory test-go TEST_SUMMARY_TO=$(TEST_SUMMARY) || status=1; \
	$(MAKE) --no-print-directory test-editors || status=1; \
	if [ -s $(TEST_SUMMARY) ]; then cat $(TEST_SUMMARY); \
	else echo "go test: no summary (the Go tests did not run to the end)"; fi; \
	exit $$status

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

# go test's output through internal/testsummary: failures and package
# lines as go test prints them, then the summary (written to
# $(TEST_SUMMARY_TO) instead when that is set, for make test to print last).
test-go:
	@mkdir -p bin
	$(GO) build -o bin/testsummary ./internal/testsummary
	./bin/testsummary -go $(GO) $(if $(TEST_SUMMARY_TO),-o $(TEST_SUMMARY_TO)) -- -count=1 ./...

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
	$(GO) test -run '^$$' -bench . -benchtime 1s ./target/... ./session/... ./unwind/... ./dap/... ./cmd/... ./internal/lldbcheck

# Fuzzing: every Fuzz target of the repository (found by name, so a new
# one joins by itself), one after another, as go test fuzzes one target of
# one package at a time. `make fuzz` runs each for FUZZTIME (nightly),
# spending at most FUZZMINIMIZETIME minimizing each new input (go's
# default, 60s, can take a whole run); `make fuzz-short` runs each for a
# fixed number of executions, minimization included, for CI. A target
# that fails leaves its crasher in its package's testdata/fuzz/ (commit
# it: it becomes a regression seed); the others still run, and the run
# fails at the end naming the failed ones. Go 1.26's coordinator can fail
# a timed run with "context deadline exceeded" at its end and no crasher
# (go.dev/issue/75804): that is reported, not counted as a failure.
FUZZTIME ?= 60s
FUZZMINIMIZETIME ?= 1s
FUZZ_SHORT ?= 2000x
FUZZ_TARGETS = $(shell grep -rHo --include='*_test.go' --exclude-dir=testdata --exclude-dir=node_modules '^func Fuzz[A-Za-z0-9_]*' . | sed -E 's|^(.*)/[^/]*:func (Fuzz.*)|\1:\2|' | sort -u)

fuzz:
	@$(MAKE) --no-print-directory fuzz-run FUZZ_FOR=$(FUZZTIME)

fuzz-short:
	@$(MAKE) --no-print-directory fuzz-run FUZZ_FOR=$(FUZZ_SHORT)

fuzz-run:
	@failed=; flaky=; start=$$(date +%s); log=$$(mktemp); trap 'rm -f "$$log" "$$log.rc"' EXIT; \
	for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; name=$${t#*:}; \
		echo "fuzz: $$name ($$pkg), $(FUZZ_FOR)"; \
		{ $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZ_FOR) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg; \
			echo $$? > "$$log.rc"; } 2>&1 | tee "$$log"; \
		if [ "$$(cat "$$log.rc")" = 0 ]; then :; \
		elif grep -q 'context deadline exceeded' "$$log" && ! grep -q 'Failing input written' "$$log"; then flaky="$$flaky $$pkg:$$name"; \
		else failed="$$failed $$pkg:$$name"; fi; \
	done; \
	echo "fuzz: $(words $(FUZZ_TARGETS)) targets, $(FUZZ_FOR) each, in $$(( $$(date +%s) - start )) s"; \
	if [ -n "$$flaky" ]; then echo "fuzz: ended by go.dev/issue/75804 (no crasher):$$flaky"; fi; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi
