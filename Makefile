# hoop: two commands set everything up on a fresh machine:
#   make run    the gateway with ./hoop.toml and a throwaway demo PostgreSQL
#   make test   installs what the tests need, then runs every test
SHELL := /bin/bash
GO ?= go
WASM_ENV := GOOS=wasip1 GOARCH=wasm
BUILTIN := internal/builtin/wasm

.PHONY: build wasm run stop-demo test check bench fuzz deps clean

build: wasm
	$(GO) build -o bin/hoop ./cli

# Every built-in plugin lands in bin/plugins/ and is embedded in bin/hoop.
wasm:
	@mkdir -p bin/plugins $(BUILTIN)
	@for p in $(PLUGINS); do \
	  name=$$(basename $$(dirname $$p)); \
	  $(WASM_ENV) $(GO) build -buildmode=c-shared -trimpath -o bin/plugins/$$name.wasm ./$$p || exit 1; \
	  cp bin/plugins/$$name.wasm $(BUILTIN)/$$name.wasm; \
	done

PLUGINS := $(patsubst %/main.go,%,$(wildcard decoders/*/wasm/main.go plugins/*/wasm/main.go))

run: build
	./scripts/demo-postgres.sh hoop.toml
	bin/hoop serve --config hoop.toml

stop-demo:
	@if [ -d data/demo-pg/data ]; then \
	  if [ "$$(id -u)" = 0 ]; then runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D $$PWD/data/demo-pg/data -m fast stop; \
	  else /usr/lib/postgresql/15/bin/pg_ctl -D $$PWD/data/demo-pg/data -m fast stop; fi; fi

deps:
	./scripts/install-test-deps.sh

check: wasm
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@cp go.mod /tmp/hoop-go.mod.bak; cp go.sum /tmp/hoop-go.sum.bak; \
	  $(GO) mod tidy; \
	  if ! git diff --quiet go.mod go.sum; then echo "go mod tidy changes go.mod/go.sum"; git diff go.mod go.sum; exit 1; fi
	$(WASM_ENV) $(GO) build ./sdk/... ./decoders/... ./plugins/...

test: deps check build
	$(GO) test -count=1 -timeout 15m ./...

bench: build
	$(GO) run ./internal/bench

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run XXX -fuzz "^$$f$$" -fuzztime 20s $$pkg || exit 1; \
	  done; done

clean:
	rm -rf bin $(BUILTIN)/*.wasm
