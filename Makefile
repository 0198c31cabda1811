# eddy - a stream runtime in C programmed in Lua.
# `make demo` and `make test` install what is missing (scripts/install-deps),
# build, and run. Everything built goes under build/ (or $(B) for variants).

VERSION  := 0.1.0
PREFIX   ?= /usr/local
B        ?= build
CC       ?= cc
OPT      ?= -O2 -g
SAN      ?=
LUA_CFLAGS := $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUA_LIBS   := $(shell pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)
CFLAGS   += $(OPT) $(SAN) -std=c11 -D_GNU_SOURCE -fPIC -Wall -Wextra \
            -Wno-unused-parameter -Wno-format-truncation -Wshadow -DEDDY_VERSION='"$(VERSION)"' \
            $(LUA_CFLAGS)
LDFLAGS  += $(SAN)
# Executables (eddy, the unit tests, bench/limit) link Lua statically, from
# liblua5.4-dev's liblua5.4.a, as Debian's lua5.4 interpreter does: calls into
# Lua then skip the shared library's PLT (the word count runs ~9% faster).
# -rdynamic exports Lua's API, so C modules a script requires (lfs, lpeg...)
# bind to this copy of Lua. eddy.core (core.so) links no Lua: it uses its
# host's. Without the archive, the shared library is used.
LUA_A    := $(shell pkg-config --variable=libdir lua5.4 2>/dev/null)/liblua5.4.a
EXE_LUA  := $(if $(wildcard $(LUA_A)),-rdynamic $(LUA_A) -ldl,$(LUA_LIBS))
LIBS     := $(EXE_LUA) -lev -lleveldb -lpthread -lm

CORE_SRC := $(filter-out runtime/main.c runtime/lcore.c,$(wildcard runtime/*.c))
CORE_OBJ := $(patsubst runtime/%.c,$(B)/obj/%.o,$(CORE_SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
BIN      := $(B)/bin/eddy
COREMOD  := $(B)/lib/eddy/core.so

.PHONY: all deps demo test check install lint format bench fuzz clean unit soak

all: $(BIN) $(COREMOD) $(UNIT_BIN)

deps:
	@scripts/install-deps

$(B)/obj/%.o: runtime/%.c $(wildcard runtime/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/libeddy.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(B)/obj/main.o $(B)/libeddy.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(COREMOD): $(B)/obj/lcore.o $(B)/libeddy.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared -o $@ $^ -lev -lleveldb -lpthread -lm

$(B)/tests/%: tests/unit/%.c $(B)/libeddy.a tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iruntime $(LDFLAGS) -o $@ $< $(B)/libeddy.a $(LIBS)

# the regression test includes the fuzz targets' sources
$(B)/tests/test_fuzz_regressions: $(wildcard fuzz/*.c fuzz/*.h)

demo: deps all
	@scripts/demo

test: deps
	@$(MAKE) --no-print-directory all
	@B=$(B) scripts/run-tests

unit: all
	@B=$(B) scripts/run-tests unit

# The whole test suite under AddressSanitizer and UBSan, in its own tree.
check: deps
	@$(MAKE) --no-print-directory B=build-asan OPT="-O1 -g" \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all
	@B=build-asan OPT="-O1 -g" \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  EDDY_SANITIZED=1 ASAN_OPTIONS=detect_leaks=0 scripts/run-tests

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/lua/5.4/eddy \
	  $(DESTDIR)$(PREFIX)/lib/lua/5.4/eddy
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/eddy
	install -m 644 lua/eddy/*.lua $(DESTDIR)$(PREFIX)/share/lua/5.4/eddy/
	install -m 755 $(COREMOD) $(DESTDIR)$(PREFIX)/lib/lua/5.4/eddy/core.so

# C sources kept in .clang-format's style: `make format` rewrites them,
# `make lint` fails when one has drifted.
FORMATTED = runtime/*.c runtime/*.h tests/unit/*.c bench/*.c

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -I runtime $(LUA_CFLAGS) runtime tests/unit
	clang-format --dry-run --Werror $(FORMATTED)

format:
	clang-format -i $(FORMATTED)

# The kill -9 crash test, longer.
soak: all
	@KILLS=200 LINES=4000000 MAX_CS=12 bash tests/e2e/crash.sh

# The benchmark's "limit" program (bench/limit.c): the bare minimum of each
# case without the runtime, linked with the runtime's JSON codec.
$(B)/bench/limit: bench/limit.c $(B)/libeddy.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iruntime $(LDFLAGS) -o $@ $< $(B)/libeddy.a $(LIBS)

bench: all $(B)/bench/limit
	@B=$(B) bench/run

# libFuzzer targets (fuzz/fuzz_*.c), built with clang into build-fuzz/; each
# runs FUZZ_SECONDS on a scratch copy of its seeds fuzz/corpus/<target>/ (the
# repo is not written). Fails if any finds a crash, leak, slow input or OOM
# (or hangs 5 minutes past its time); the input is kept in
# build-fuzz/artifacts/<target>/ and the log in build-fuzz/fuzz_<target>.log.
FUZZ_SECONDS ?= 30
FUZZ_FLAGS   ?=
FUZZ_B       := build-fuzz
FUZZ_CC      ?= clang
FUZZ_CFLAGS  := -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=undefined $(LUA_CFLAGS) -Iruntime
FUZZ_LIBS    := $(LUA_LIBS) -lm

fuzz:
	@scripts/install-deps fuzz
	@mkdir -p $(FUZZ_B)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $(FUZZ_B)/fuzz_lines fuzz/fuzz_lines.c \
	  runtime/lines.c $(FUZZ_LIBS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $(FUZZ_B)/fuzz_json fuzz/fuzz_json.c \
	  runtime/json.c runtime/json_encode.c runtime/buf.c $(FUZZ_LIBS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $(FUZZ_B)/fuzz_state_codec \
	  fuzz/fuzz_state_codec.c runtime/state_codec.c runtime/json.c \
	  runtime/json_encode.c runtime/buf.c $(FUZZ_LIBS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $(FUZZ_B)/fuzz_http fuzz/fuzz_http.c \
	  runtime/http.c runtime/buf.c -D_GNU_SOURCE $(FUZZ_LIBS) -lev
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	trap 'exit 130' INT TERM; failed=; \
	for t in lines json state_codec http; do \
	  cp -R fuzz/corpus/$$t "$$tmp/$$t"; mkdir -p $(FUZZ_B)/artifacts/$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s (log: $(FUZZ_B)/fuzz_$$t.log)"; \
	  if timeout -k 10 $$(($(FUZZ_SECONDS) + 300)) \
	       $(FUZZ_B)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=25 \
	       -print_final_stats=1 -artifact_prefix=$(FUZZ_B)/artifacts/$$t/ \
	       $(FUZZ_FLAGS) "$$tmp/$$t" >$(FUZZ_B)/fuzz_$$t.log 2>&1; then \
	    grep -aE '^Done [0-9]+ runs' $(FUZZ_B)/fuzz_$$t.log | sed 's/^/  /'; \
	  else \
	    failed="$$failed $$t"; echo "fuzz: $$t FAILED (or hung):"; \
	    grep -aE 'invariant violated|ERROR|SUMMARY|Test unit written' \
	      $(FUZZ_B)/fuzz_$$t.log | head -20 | sed 's/^/  /'; \
	  fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi; \
	echo "fuzz: no crash in lines, json, state_codec, http"

clean:
	rm -rf build build-asan build-fuzz
