# Almanac developer and CI entry points (GNU make).
#
# Needs only python3 >= 3.11, make, node and npm: the Python tools live in .venv
# (built from pyproject.toml) and buf / the Node gRPC packages in node_modules
# (built from package-lock.json). `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.stamp
NODE_STAMP := node_modules/.stamp
BUF := node_modules/.bin/buf

# The buf module holding the contract (buf.yaml: protos/, with protos/third_party
# as a separate, vendored module). `buf format` only looks at our own files.
PROTO_MODULE := protos
PROTO_OWN_DIR := protos/almanac
PROTO_PKG_DIR := protos/almanac/v1
# The released contract: a buf image the breaking check compares against.
SNAPSHOT := protos/released/almanac_v1.binpb
# Also compare with this git revision (after the first release only). 0 disables.
BREAKING_GIT_REF ?= HEAD~1
BREAKING_GIT ?= 1

MYPY_PATHS ?= services connectors gateway
PYTEST_ARGS ?=
FUZZ_EXAMPLES ?= 300

.PHONY: help venv node protos lint proto-lint fmt typecheck breaking protos-release \
	test fidelity fuzz fuzz-grpc fuzz-gateway run bench clean distclean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

# ---------------------------------------------------------------- environments

$(VENV_STAMP): pyproject.toml
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "error: $(PY) is $$($(PY) -V 2>&1); Almanac needs Python >= 3.11" >&2; exit 1; }
	@[ -x $(VPY) ] || { echo "creating $(VENV) with $$($(PY) -V)"; $(PY) -m venv $(VENV); }
	$(VPY) -m pip install --disable-pip-version-check -q -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js >= 18" >&2; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

venv: $(VENV_STAMP) ## Create/refresh .venv (rebuilt when pyproject.toml changes)

node: $(NODE_STAMP) ## Install buf and the Node gRPC packages (npm ci)

# ------------------------------------------------------------------- contract

protos: $(VENV_STAMP) ## Regenerate protos/almanac/v1/*_pb2*.py{,i} from the .proto files
	$(VPY) protos/generate.py

proto-lint: $(NODE_STAMP) ## buf lint + buf format check of the .proto files
	$(BUF) lint
	$(BUF) format --path $(PROTO_OWN_DIR) --diff --exit-code

breaking: $(NODE_STAMP) ## buf breaking against the released snapshot (and HEAD~1)
	@if [ ! -f $(SNAPSHOT) ]; then \
		echo "breaking: no released contract at $(SNAPSHOT) yet (first release): nothing to"; \
		echo "          compare against, passing. Run 'make protos-release' when v1 ships."; \
		exit 0; \
	fi; \
	echo "breaking: $(BUF) breaking $(PROTO_MODULE) --against $(SNAPSHOT)"; \
	$(BUF) breaking $(PROTO_MODULE) --against $(SNAPSHOT); \
	if [ "$(BREAKING_GIT)" = 0 ]; then exit 0; fi; \
	if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		echo "breaking: not a git checkout, skipping the $(BREAKING_GIT_REF) comparison"; exit 0; fi; \
	if ! ref=$$(git rev-parse --verify --quiet '$(BREAKING_GIT_REF)^{commit}'); then \
		echo "breaking: no $(BREAKING_GIT_REF) in this clone (shallow or first commit), skipping"; exit 0; fi; \
	if ! git cat-file -e "$$ref:buf.yaml" 2>/dev/null || \
		! git ls-tree --name-only "$$ref" -- $(PROTO_PKG_DIR)/ | grep -q '\.proto$$'; then \
		echo "breaking: $(BREAKING_GIT_REF) has no buf.yaml or no $(PROTO_PKG_DIR)/*.proto, skipping"; exit 0; fi; \
	echo "breaking: $(BUF) breaking $(PROTO_MODULE) --against '.git#ref=$$ref,subdir=$(PROTO_MODULE)'"; \
	$(BUF) breaking $(PROTO_MODULE) --against ".git#ref=$$ref,subdir=$(PROTO_MODULE)"

protos-release: $(NODE_STAMP) ## Deliberately refresh the released-contract snapshot
	@mkdir -p $(dir $(SNAPSHOT))
	$(BUF) build $(PROTO_MODULE) --path $(PROTO_OWN_DIR) --exclude-source-info -o $(SNAPSHOT)
	@echo "wrote $(SNAPSHOT) ($$(wc -c < $(SNAPSHOT)) bytes); commit it to freeze the contract"

# --------------------------------------------------------------- code quality

lint: $(VENV_STAMP) $(NODE_STAMP) ## ruff check + buf lint + buf format check
	$(VENV)/bin/ruff check .
	@$(MAKE) --no-print-directory proto-lint

fmt: $(VENV_STAMP) $(NODE_STAMP) ## Rewrite Python (ruff format) and .proto (buf format -w) files
	$(VENV)/bin/ruff format .
	$(BUF) format -w --path $(PROTO_OWN_DIR)

typecheck: $(VENV_STAMP) ## mypy (strict) over the service code
	$(VENV)/bin/mypy $(MYPY_PATHS)

# ---------------------------------------------------------------------- tests

test: $(VENV_STAMP) $(NODE_STAMP) ## proto lint, breaking check, then pytest over tests/
	@$(MAKE) --no-print-directory proto-lint
	@$(MAKE) --no-print-directory breaking
	@rc=0; $(VENV)/bin/pytest $(PYTEST_ARGS) tests || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests (exit code 5)" >&2; fi; \
	exit $$rc

FUZZ_CASES ?= 10000

fuzz: fuzz-grpc fuzz-gateway ## Both long fuzz runs below

fuzz-grpc: $(VENV_STAMP) ## Fuzz every served RPC (FUZZ_CASES, default 10000); prints the count per status code
	$(VPY) -m tests.fuzz.runner $(FUZZ_CASES)

fidelity: $(VENV_STAMP) $(NODE_STAMP) ## ICS corpus figures (../shared/ics-corpus): imported, agree, round trip
	$(VPY) -m tests.fidelity.report

fuzz-gateway: $(VENV_STAMP) ## Long schemathesis run against the REST gateway (FUZZ_EXAMPLES=300)
	$(VPY) -m tests.gateway.fuzz $(FUZZ_EXAMPLES)

# ------------------------------------------------------------------------ run

run: $(VENV_STAMP) ## Start the Almanac services (almanac up)
	$(VENV)/bin/almanac up

bench: $(VENV_STAMP) ## Run the benchmark (python -m bench)
	$(VPY) -m bench

clean: ## Remove caches and build output (keeps .venv, node_modules, generated code)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info
	find . -path ./.venv -prune -o -path ./node_modules -prune -o -path ./.git -prune -o \
		-type d -name __pycache__ -exec rm -rf {} +

distclean: clean ## clean, plus .venv and node_modules
	rm -rf $(VENV) node_modules
