# Moonflow: two commands on a fresh Debian/Ubuntu machine.
#   make        installs what is missing, builds, and runs the examples (the main job)
#   make test   installs what is missing, builds, and runs every test (what CI runs)

SWIFT ?= swift
PACKAGES := libyaml-dev liblua5.4-dev pkg-config libsqlite3-dev
# Only the tests need these: chromium for the web page's browser test (it skips without it),
# luacheck (EditorConfigTests), curl (.ci/doc-examples), promtool from prometheus (MetricsExpositionTests),
# python3-venv (test-tools), postgresql (the PostgreSQL store's tests start a throwaway cluster of
# their own with its initdb and pg_ctl; they never use a server the package may have started).
TEST_PACKAGES := chromium chromium-driver lua-check curl prometheus python3-venv wrk postgresql
# From PyPI into .build/venv: the OpenAPI validator and schemathesis (OpenAPIConformanceTests).
VENV := .build/venv
PY_TEST_TOOLS := openapi-spec-validator==0.9.0 schemathesis==4.32.5
BIN := .build/release/moonflow

.PHONY: demo deps test-deps test-tools build test check-warnings clean
.DEFAULT_GOAL := demo

# Installs the apt packages of $(1) that are missing (sudo only when not root).
define apt_install
	@missing=""; \
	for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing:$$missing"; \
		if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi; \
		$$sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q $$missing; \
	fi
endef

# The system libraries the build needs.
deps:
	$(call apt_install,$(PACKAGES))

# What only the tests need.
test-deps:
	$(call apt_install,$(TEST_PACKAGES))

# Python tools of the tests, in a virtual environment of the build (reinstalled when the pins change).
test-tools: test-deps
	@if [ "$$(cat $(VENV)/pins 2>/dev/null)" != "$(PY_TEST_TOOLS)" ]; then \
		echo "Installing into $(VENV): $(PY_TEST_TOOLS)"; \
		rm -rf $(VENV) && python3 -m venv $(VENV) && $(VENV)/bin/pip install -q $(PY_TEST_TOOLS) \
			&& echo "$(PY_TEST_TOOLS)" > $(VENV)/pins; \
	fi

build: deps
	$(SWIFT) build -c release --product moonflow

# The main job: validate the example project, run its workflows (one of them compensates), run
# their test cases, then serve them over HTTP on loopback (runs are kept in .moonflow/state.db).
# The services the examples call (moonflow.yaml's connections) are mocked locally for the whole
# demo by `moonflow mock-services mocks/services.yaml` on 127.0.0.1:8089: nothing leaves the machine.
demo: build
	$(BIN) validate
	$(BIN) graph high_priority_ticket --format mermaid
	$(BIN) mock-services mocks/services.yaml & mock=$$!; trap 'kill $$mock' EXIT; sleep 1; set -e; \
	$(BIN) run hello --input '{"name": "Ada"}'; \
	$(BIN) run order_processing --input '{"order_id": "ORD-1", "customer": {"email": "ada@example.com"}, "items": [{"sku": "A-1", "quantity": 2, "price": 12.5}]}'; \
	$(BIN) run lead_qualification --input '{"email": "ada@example.com", "company": "Acme", "employees": 20, "budget": 50000}'; \
	$(BIN) run high_priority_ticket --input '{"ticket_id": "T-7", "priority": "high", "tier": "pro", "fail_sla": true}' || test $$? -eq 1; \
	$(BIN) test order_processing; \
	$(BIN) test high_priority_ticket; \
	echo "Serving the examples on http://127.0.0.1:8080/ (API: docs/api.md; Ctrl-C stops)"; \
	$(BIN) serve --insecure-no-auth

BROWSER_SUITES := ConsoleBrowserTests|WebPageSecurityTests
TIMED_SUITES := BodyLimitTests|StorageRetryTests|ConnectionLimitTests|HeadAndMethodTests|BadBodyTests|StreamBackpressureTests

# Every test, on one debug build: CI has 90 minutes on two cores, and a second (release) build of
# every dependency took most of them. The command-line, OpenAPI and documentation checks run against
# the debug binary; `make` builds and runs the release binary users run.
DEBUG_BIN := .build/debug/moonflow
# A test process that hangs fails its step after 20 minutes, naming it, instead of eating CI's budget.
LIMIT := timeout -k 10 1200
test: deps test-deps test-tools
	$(SWIFT) build --build-tests
	@# In one process the command-line tests wait on their child processes on the cooperative pool's
	@# threads (two here), and Chromium takes both cores: beside them, in-process servers and the
	@# PostgreSQL suites stalled past their time limits. So: the in-process suites, then the
	@# command-line suites, then the browser suites, each in a test process of its own.
	$(LIMIT) $(SWIFT) test --skip-build --skip '$(TIMED_SUITES)|$(BROWSER_SUITES)|MoonflowCLITests'
	$(LIMIT) $(SWIFT) test --skip-build --filter MoonflowCLITests
	$(LIMIT) $(SWIFT) test --skip-build --filter '$(BROWSER_SUITES)'
	@# Suites that bound how soon the server answers or a store gives up, after the others: run beside
	@# the PostgreSQL clusters and the three-process test, their bounds measure the machine's load.
	$(LIMIT) $(SWIFT) test --skip-build --filter '$(TIMED_SUITES)'
	@# Tests that bound this process's RSS, each in a test process of its own.
	for t in twentyStalledSubscribersAndTwoThousandEventsStayWithinFiftyMegabytes emittingBeyondTheBudgetFailsTheAttempt \
		emittingFarBeyondTheBudgetInALoopKeepsTheProcessAndItsMemory theEnginesMemoryDoesNotGrowWithAScriptsAllocations; do \
		MOONFLOW_MEMORY_TESTS=1 $(LIMIT) $(SWIFT) test --skip-build --filter "$$t" || exit 1; done
	@# Requests stopped by their timeouts within 10%, alone: in the whole suite timers run late.
	MOONFLOW_TIMING_TESTS=1 $(LIMIT) $(SWIFT) test --skip-build --filter "aSlowServiceTimesOutOnTime|aRequestStopsWithTheAttemptsTimeout|theScriptsOwnTimeLimitStopsARequest"
	@# schemathesis against a live server, alone: it keeps both cores busy for half a minute.
	MOONFLOW_OPENAPI_TESTS=1 MOONFLOW_TEST_BINARY="$(CURDIR)/$(DEBUG_BIN)" $(LIMIT) $(SWIFT) test --skip-build --filter OpenAPIConformanceTests
	MOONFLOW_BIN="$(CURDIR)/$(DEBUG_BIN)" $(LIMIT) .ci/doc-examples

# Fails when our own sources compile with warnings (dependencies are not ours to fix).
check-warnings: deps
	@rm -rf .build/debug/Moonflow*.build .build/debug/CLuaSupport.build
	@$(SWIFT) build --build-tests 2>&1 | tee .build/warnings.log | grep -E '^/.*(Sources|Tests)/.*warning:' && exit 1 || echo "no warnings"

clean:
	rm -rf .build
