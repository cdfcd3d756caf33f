# certfleet: `make demo` shows the whole flow on this machine, `make test` runs the tests.
.DEFAULT_GOAL := help
SHELL := /bin/bash

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The hub reads main.version; the agent reads its package's version.
LDFLAGS  := -s -w -X main.version=$(VERSION) -X github.com/certfleet/certfleet/agent.version=$(VERSION)
# Package version: the tag without "v", else 0.0.0+git.<commit>.
PKG_VERSION ?= $(shell v=$$(git describe --tags --exact-match 2>/dev/null) && echo $${v\#v} || echo 0.0.0+git.$$(git rev-parse --short HEAD 2>/dev/null || echo unknown))
PKG_ARCHS ?= amd64 arm64
BIN      := bin
TESTFLAGS ?=
FUZZTIME ?= 10s
FUZZPKGS ?= ./...


AGENT_PLATFORMS := linux/amd64 linux/arm64 windows/amd64 windows/arm64 darwin/arm64
HUB_PLATFORMS   := linux/amd64 linux/arm64

.PHONY: help build test demo bench lint cross fuzz clean package

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## Build certfleet-hub and certfleet-agent into bin/
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/certfleet-hub ./hub/cmd/certfleet-hub
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/certfleet-agent ./agent/cmd/certfleet-agent

test: ## Run all tests (unit, integration with real binaries, Pebble and NATS)
	$(GO) test -count=1 -timeout 25m $(TESTFLAGS) ./...

demo: build ## Run the whole flow locally: hub, NATS, DNS, Pebble, two agents
	$(GO) build -o $(BIN)/certfleet-demo ./integration/cmd/certfleet-demo
	$(BIN)/certfleet-demo --bin $(BIN)

bench: ## Run the benchmarks (fleet of FLEET_AGENTS=1000 simulated agents; see docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 3h ./...

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

cross: ## Cross-compile the agent (5 platforms) and the hub (linux) into dist/
	@set -e; for p in $(AGENT_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  echo "agent $$os/$$arch"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/certfleet-agent_$${os}_$${arch}$$ext ./agent/cmd/certfleet-agent; \
	done; for p in $(HUB_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; echo "hub $$os/$$arch"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/certfleet-hub_$${os}_$${arch} ./hub/cmd/certfleet-hub; \
	done

package: ## Build .deb and .rpm for agent and hub (PKG_ARCHS) and the agent's MSI into dist/, with SHA256SUMS
	packaging/build.sh dist '$(PKG_VERSION)' $(PKG_ARCHS)
	packaging/build-msi.sh dist '$(PKG_VERSION)'

fuzz: ## Run every fuzz target for FUZZTIME each (default 10s); report every failing one with its output
	@# Go 1.26's fuzz coordinator can fail a target at the -fuzztime boundary with a bare "context deadline
	@# exceeded" and no crasher under CPU load (go.dev/issue/75804, fixed in Go 1.27). Such a run is retried,
	@# up to 3 times; a run that writes a failing input or fails any other way fails at once.
	@failed=; for pkg in $$($(GO) list $(FUZZPKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; ok=; \
	    for try in 1 2 3; do \
	      if out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg 2>&1); then ok=1; break; fi; \
	      if echo "$$out" | grep -q 'Failing input written' || ! echo "$$out" | grep -q '^    context deadline exceeded$$'; then break; fi; \
	      echo "  try $$try ended with the fuzz coordinator's deadline race and no failing input; retrying"; \
	    done; \
	    if [ -z "$$ok" ]; then echo "$$out"; echo "FAIL fuzz $$pkg $$f"; failed="$$failed $$pkg.$$f"; fi; \
	  done; \
	done; \
	if [ -n "$$failed" ]; then echo "failing fuzz targets:$$failed"; exit 1; fi

clean: ## Remove build output
	rm -rf $(BIN) dist
