# scvbridge — build, test and demo.
#
#   make            build build/scvbridge and build/scv-emulator
#   make check      unit + integration tests; ends with "N passed, N failed"
#   make check SANITIZE=1   the same under ASan + UBSan (objects in build/sanitize/)
#   make demo       one call end to end: SIPp caller -> scvbridge -> SIPp agent, emulated Salesforce
#   make deps       install missing Debian packages (as root) or print the apt-get line
#   make bench      measurements with baselines (BENCH_QUICK=1: a ~3-minute version); report in
#                   tests/bench/results/
#   make format-check   clang-format conformance of the C sources
#   make web        the browser connector (scv/web/) into build/web/, from the npm lockfile only

PKGS      := libuv sofia-sip-ua libwebsockets jansson openssl sqlite3
# Debian packages the build, the tests, the demo and `make format-check` need.
DEB_PKGS  := gcc make pkg-config libuv1-dev libsofia-sip-ua-dev libwebsockets-dev \
             libwebsockets-evlib-uv libjansson-dev libssl-dev libsqlite3-dev sqlite3 \
             libwslay-dev sip-tester openssl curl jq procps clang-format chromium nodejs \
             libnss3-tools python3-websockets
# Extra Debian packages for `make bench`: the Kamailio baseline, the capture that times the
# INVITEs on loopback, and the chart.
BENCH_PKGS := kamailio tshark gnuplot-nox

VERSION   := 0.1.0

ifeq ($(SANITIZE),1)
BUILD     ?= build/sanitize
SANFLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT       := -O1
else
BUILD     ?= build
SANFLAGS  :=
OPT       := -O2
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null | sed 's/-I/-isystem /g')
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wno-missing-field-initializers -fno-strict-aliasing -I. \
           -DSCVB_VERSION='"$(VERSION)"' $(PKG_CFLAGS) $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
# Debian 12's libwslay-dev ships no pkg-config file (pkg-config --libs libwslay fails, and one
# missing name empties the whole pkg-config answer), so wslay is linked by name; its header is
# in /usr/include.
LDLIBS  += $(PKG_LIBS) -lwslay -lm

# pkg-config flags are expanded lazily (=), after `deps` has installed what was missing.

# Daemon sources: every .c of the three modules; main.c only wires them.
LIB_SRCS  := $(wildcard connector/*.c sip/*.c scv/*.c)
LIB_SRCS  := $(filter-out connector/main.c,$(LIB_SRCS))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
EMU_SRCS  := $(wildcard tests/emulator/*.c)
EMU_OBJS  := $(EMU_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/*/*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
# The WebSocket test server (scv/ws.c on a loopback socket) that tests/integration/ws_test.sh
# drives with independent clients.
WS_SERVER := $(BUILD)/tests/ws-server

.PHONY: all deps bench-deps check unit integration demo bench clean format format-check web

all: deps $(BUILD)/scvbridge $(BUILD)/scv-emulator web

# Installs the Debian packages of $(2) that are missing: as root with apt-get, otherwise prints the
# exact command and fails. $(1) names the target in messages.
define install-missing
@missing=""; for p in $(2); do \
	dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
done; \
if [ -n "$$missing" ]; then \
	if [ "$$(id -u)" = 0 ]; then \
		echo "$(1): installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null || exit 1; \
	else \
		echo "$(1): missing Debian packages; run as root:"; \
		echo "  apt-get install -y$$missing"; exit 1; \
	fi; \
fi
endef

# `make deps`: nothing to do when every package is there.
deps:
	$(call install-missing,deps,$(DEB_PKGS))

# `make bench-deps`: the same for the packages only the bench needs.
bench-deps:
	$(call install-missing,bench-deps,$(BENCH_PKGS))

$(BUILD)/libscvbridge.a: $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/scvbridge: $(BUILD)/obj/connector/main.o $(BUILD)/libscvbridge.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/scv-emulator: $(EMU_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# A unit test #includes the .c it tests (to reach static functions) and links the rest
# of the daemon from the archive.
$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libscvbridge.a tests/unit/test.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(BUILD)/libscvbridge.a $(LDLIBS)

$(WS_SERVER): tests/ws_server/ws_server.c $(BUILD)/libscvbridge.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(BUILD)/libscvbridge.a $(LDLIBS)

# The browser connector: npm ci from the lockfile (into scv/web/node_modules, ignored by git;
# no install scripts), then esbuild. Always build/web, whatever SANITIZE says: it is not C.
# npm comes with Debian's nodejs only as the separate npm package, and conflicts with
# distributions of nodejs that bundle it, so it is installed only when missing.
WEB_OUT     := build/web
WEB_SRCS    := $(wildcard scv/web/src/*) scv/web/build.mjs
WEB_MODULES := scv/web/node_modules/.package-lock.json

web: $(WEB_OUT)/connector.js

$(WEB_MODULES): scv/web/package.json scv/web/package-lock.json | deps
	$(if $(shell command -v npm),,$(call install-missing,web,npm))
	cd scv/web && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

$(WEB_OUT)/connector.js: $(WEB_MODULES) $(WEB_SRCS)
	node scv/web/build.mjs $(WEB_OUT)

unit: all $(UNIT_BINS)

check: all web $(UNIT_BINS) $(WS_SERVER)
	@BUILD_DIR=$(BUILD) SANITIZE=$(SANITIZE) bash tests/run.sh

integration: all $(WS_SERVER)
	@BUILD_DIR=$(BUILD) SANITIZE=$(SANITIZE) bash tests/run.sh integration

demo: all
	@BUILD_DIR=$(BUILD) bash tests/demo.sh

bench: all bench-deps
	@BUILD_DIR=$(BUILD) BENCH_QUICK=$(BENCH_QUICK) bash tests/bench/run.sh

# Every C source and header, the tests' shared headers included: what git tracks plus new files
# not yet added (so a new header is checked before its first commit); outside a git checkout,
# every .c and .h of the source folders.
C_FILES = $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null || \
            find connector sip scv tests -name '*.[ch]' | sort)
format:
	clang-format -i $(C_FILES)
format-check:
	clang-format --dry-run --Werror $(C_FILES)

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(EMU_OBJS:.o=.d) $(BUILD)/obj/connector/main.d $(UNIT_BINS:=.d) \
         $(WS_SERVER).d
