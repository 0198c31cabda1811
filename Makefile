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
LIBS     := $(LUA_LIBS) -lev -lleveldb -lpthread -lm

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
	@B=build-asan EDDY_SANITIZED=1 ASAN_OPTIONS=detect_leaks=0 scripts/run-tests

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/lua/5.4/eddy \
	  $(DESTDIR)$(PREFIX)/lib/lua/5.4/eddy
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/eddy
	install -m 644 lua/eddy/*.lua $(DESTDIR)$(PREFIX)/share/lua/5.4/eddy/
	install -m 755 $(COREMOD) $(DESTDIR)$(PREFIX)/lib/lua/5.4/eddy/core.so

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -I runtime $(LUA_CFLAGS) runtime tests/unit

format:
	clang-format -i runtime/*.c runtime/*.h tests/unit/*.c

# The kill -9 crash test, longer.
soak: all
	@KILLS=200 LINES=3000000 bash tests/e2e/crash.sh

bench: all
	@B=$(B) bench/run

clean:
	rm -rf build build-asan build-fuzz
