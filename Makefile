# reportlib — make targets. On a fresh clone: `make demo`, then `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RL     := $(BIN)/reportlib
DB     := data/reportlib.sqlite
MONTH  ?= 2026-10
QUARTER ?= 2026Q3
BATCH  ?= latest
BILLING ?= billing@carrier.example
WORKERS ?=
SCALE  ?= default
WEEK   ?=
FROM   ?=
TO     ?=
PYTEST_ARGS ?=
# Test processes (pytest-xdist); each gets its own PostgreSQL database (tests/conftest.py).
TEST_WORKERS ?= 2
# make bench: entities per comparison, repetitions (medians), the large demo database, and the
# at-scale QBR batch (all: every active partner of the large demo, ~15 min; or a number).
# BENCH_ONLY=startup: only the start-up goals (one run, a 16-deck batch, each against papermill,
# on the default demo database).
BENCH_N      ?= 16
BENCH_REPEAT ?= 3
BENCH_SCALE  ?= all
BENCH_DB     ?= data/bench-large.sqlite
# make bench BENCH_ONLY=portal: only the portal's load test and on-demand statements (default demo);
# BENCH_ONLY=load: only the load of the large leads demo; BENCH_PG=URL measures it on PostgreSQL too;
# BENCH_ONLY=notebook-grid (make bench-notebooks): only the 100-row notebook grid against the papermill CLI
BENCH_ONLY   ?= all
BENCH_PG     ?=
# make serve: the portal on the demo database
HOST ?= 127.0.0.1
PORT ?= 8000

WORKERS_FLAG := $(if $(WORKERS),--workers $(WORKERS),)
# make dashboard MONTH=2026-10 | WEEK=2026-W43 | FROM=2026-01 TO=2026-10 (one run per month)
DASHBOARD_PERIOD := $(if $(WEEK),-p week $(WEEK),$(if $(FROM),-p from_month $(FROM) -p to_month $(or $(TO),$(MONTH)),-p month $(MONTH)))

.PHONY: help venv constraints demo data test statements qbr amendments dashboard all monthly quarterly bench bench-notebooks clean lab serve pool

help:
	@echo "make demo        virtualenv, install, demo database, sample outputs of every family"
	@echo "make test        the whole test suite"
	@echo "make lab         JupyterLab on the notebooks, with reportlib and the demo database"
	@echo "make statements  MONTH=2026-10   statement pack of every active partner"
	@echo "make qbr         QUARTER=2026Q3  QBR deck of every active partner + the quarter's portfolio"
	@echo "make amendments  BATCH=latest    rate amendments of a change batch (applies the demo deck if none)"
	@echo "make dashboard   MONTH=2026-10 | WEEK=2026-W43 | FROM=2026-01 TO=2026-10   tech dashboard(s)"
	@echo "make all         every family's batch for the default periods"
	@echo "make monthly     MONTH=2026-10   statements + dashboard, their PDFs, the catalogue, then send (outbox)"
	@echo "make quarterly   QUARTER=2026Q3  every QBR deck + the portfolio, PDFs, the catalogue, then send (outbox)"
	@echo "make serve       the web portal on the demo database: http://127.0.0.1:8000/ (HOST, PORT)"
	@echo "make pool        warm kernels: reportlib run qbr -p partner P001 -p quarter 2026Q3 then takes ~1 s"
	@echo "make bench       papermill CLI loop vs reportlib batch, load vs sqlite3 .import, the portal under load"
	@echo "                 -> bench/results/<date>.md (BENCH_N, BENCH_REPEAT; BENCH_ONLY=portal or load for one"
	@echo "                 part alone, BENCH_PG=URL for the load on PostgreSQL)"
	@echo "make bench-notebooks  only the 100-row notebook grid vs the papermill CLI (BENCH_REPEAT)"
	@echo "make constraints renew constraints.txt (exact versions) from pyproject.toml's ranges"
	@echo "make clean       remove outputs/ and data/"

venv: $(VENV)/.installed

# pip compiles every installed package's modules to bytecode, but not an editable install's:
# without this each process (every run and its kernel) compiles reportlib anew where
# PYTHONDONTWRITEBYTECODE is set. A module edited later is compiled in memory until the next
# `make venv` or `make bench`.
COMPILE = $(BIN)/python -m compileall -q src/reportlib

# Exact versions from constraints.txt (CI installs through this target too).
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	$(COMPILE)
	touch $@

# Renew constraints.txt: the newest versions pyproject.toml's ranges allow, resolved in a fresh
# virtualenv with the test, bench and lab extras, pinned exactly. Then `make venv test bench`.
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install --quiet --upgrade pip
	.venv-constraints/bin/python -m pip install --quiet -e '.[test,bench,lab]'
	{ sed -n '/^#/p' constraints.txt; .venv-constraints/bin/python -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .venv-constraints

$(DB): | venv
	$(RL) demo --scale $(SCALE)

data: $(DB)

demo: venv
	$(RL) demo --fresh --data-only --scale $(SCALE)
	$(RL) batch statement -p month $(MONTH) $(WORKERS_FLAG)
	$(RL) batch qbr -p quarter $(QUARTER) $(WORKERS_FLAG)
	$(RL) batch qbr-portfolio -p quarter $(QUARTER)
	$(RL) amendments make --batch latest --demo-if-none --billing-address $(BILLING) $(WORKERS_FLAG)
	$(RL) batch dashboard -p month $(MONTH) $(WORKERS_FLAG)
	$(RL) send statement -p month $(MONTH)
	$(RL) send qbr -p quarter $(QUARTER)
	$(RL) send qbr-portfolio -p quarter $(QUARTER)
	$(RL) send dashboard -p month $(MONTH)
	@echo "Sample outputs, their PDFs and outboxes are under outputs/; open outputs/index.html."
	$(RL) users demo

statements: venv $(DB)
	$(RL) batch statement -p month $(MONTH) $(WORKERS_FLAG)

qbr: venv $(DB)
	$(RL) batch qbr -p quarter $(QUARTER) $(WORKERS_FLAG)
	$(RL) batch qbr-portfolio -p quarter $(QUARTER)

amendments: venv $(DB)
	$(RL) amendments make --batch $(BATCH) --demo-if-none --billing-address $(BILLING) $(WORKERS_FLAG)

dashboard: venv $(DB)
	$(RL) batch dashboard $(DASHBOARD_PERIOD) $(WORKERS_FLAG)

all: statements qbr amendments dashboard

# A whole cycle: the reports (each batch rebuilds outputs/index.html), then the messages (each
# send first makes the PDFs it attaches; a batch makes them only with --pdf). Without REPORTLIB_SMTP (HOST:PORT) in the environment the outboxes are the delivery.
monthly: venv $(DB)
	$(RL) batch statement -p month $(MONTH) $(WORKERS_FLAG)
	$(RL) batch dashboard -p month $(MONTH) $(WORKERS_FLAG)
	$(RL) send statement -p month $(MONTH)
	$(RL) send dashboard -p month $(MONTH)

quarterly: venv $(DB)
	$(RL) batch qbr -p quarter $(QUARTER) $(WORKERS_FLAG)
	$(RL) batch qbr-portfolio -p quarter $(QUARTER)
	$(RL) send qbr -p quarter $(QUARTER)
	$(RL) send qbr-portfolio -p quarter $(QUARTER)

# JupyterLab (the optional `lab` extra, pinned like the rest; make test never installs it) on
# the project folder: the kernel is this virtualenv's Python, with reportlib and the demo database.
lab: venv $(DB)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,lab]'
	REPORTLIB_HOME=$(CURDIR) $(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR)

# pytest exits 5 when it ran no test: that is a failure here, never a pass.
test: venv
	@$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: no test ran" >&2; exit 1; fi; exit $$rc

$(BENCH_DB): | venv
	$(RL) demo --scale large --db sqlite:///$(CURDIR)/$(BENCH_DB)

bench: venv $(if $(filter load notebook-grid,$(BENCH_ONLY)),,$(DB)) $(if $(filter portal load notebook-grid startup,$(BENCH_ONLY)),,$(BENCH_DB))
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,bench]'
	$(COMPILE)
	$(BIN)/python bench/bench.py --db sqlite:///$(CURDIR)/$(BENCH_DB) --n $(BENCH_N) --repeat $(BENCH_REPEAT) \
		--scale-n $(BENCH_SCALE) --only $(BENCH_ONLY) --portal-db sqlite:///$(CURDIR)/$(DB) \
		--startup-db sqlite:///$(CURDIR)/$(DB) $(if $(BENCH_PG),--pg $(BENCH_PG),) \
		$(if $(WORKERS),--workers $(WORKERS),)

# Only the notebook grid of make bench: reportlib batch PATH.ipynb --grid against the papermill CLI.
bench-notebooks:
	$(MAKE) bench BENCH_ONLY=notebook-grid
serve: venv $(DB)
	$(RL) serve --host $(HOST) --port $(PORT)

# Warm kernels for `reportlib run` on the demo database (Ctrl-C stops them; WORKERS=N for more).
pool: venv $(DB)
	$(RL) pool --db sqlite:///$(CURDIR)/$(DB) $(WORKERS_FLAG)

clean:
	rm -rf data .pytest_cache
	find outputs -mindepth 1 -not -name .gitkeep -exec rm -rf {} +
