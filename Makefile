# Makefile: builds the XDP program and its skeleton, pgxrd and pgxrctl; runs tests, the demo and the benchmark
OUTPUT := .output
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
PG_INCLUDE := $(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)

CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE \
	-Iinclude -I$(OUTPUT) -I$(PG_INCLUDE)
BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wextra -Werror \
	-Iinclude -Ibpf -I/usr/include/$(MULTIARCH)

BPF_PROGS := pgxr_xdp pgxr_decap xdp_pass
BPF_OBJS := $(patsubst %,$(OUTPUT)/%.bpf.o,$(BPF_PROGS))
SKELS := $(patsubst %,$(OUTPUT)/%.skel.h,$(BPF_PROGS))

# modules shared by pgxrd, pgxrctl and the unit tests
LIB_SRCS := addr.c auth.c classify.c config.c dataplane.c digest.c json.c log.c maglev.c nl.c pgproto.c pgtext.c qcache.c splitlist.c table.c txstate.c
LIB_OBJS := $(patsubst %.c,$(OUTPUT)/lib/%.o,$(LIB_SRCS))
# an archive: each program links only the modules it uses (pgxrctl needs no OpenSSL)
LIB := $(OUTPUT)/libpgxr.a
PGXRD_SRCS := $(filter-out $(LIB_SRCS),$(notdir $(wildcard userspace/*.c)))
PGXRD_OBJS := $(patsubst %.c,$(OUTPUT)/pgxrd/%.o,$(PGXRD_SRCS))
PGXRCTL_OBJS := $(patsubst tools/pgxrctl/%.c,$(OUTPUT)/pgxrctl/%.o,$(wildcard tools/pgxrctl/*.c))
TEST_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_*.c))
TEST_HELPERS := $(filter-out $(wildcard tests/unit/test_*.c),$(wildcard tests/unit/*.c))
BENCH_BINS := $(patsubst vm-tests/bench/%.c,$(OUTPUT)/bench/%,$(wildcard vm-tests/bench/*.c))
# the lab's stand-in for 802.1Q on kernels without it
LAB_BINS := $(OUTPUT)/lab/vlan_wire
# libFuzzer targets, with AddressSanitizer and UndefinedBehaviorSanitizer, built from the sources they test
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS := -O1 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SECONDS ?= 300

LIBS := -lbpf -lelf -lz
# PostgreSQL's parser, as Debian's libpg-query-dev builds it: static, no shared object to ship
PG_QUERY_LIBS := -l:libpg_query.a
PGXRD_LIBS := $(LIBS) -lmnl -lssl -lcrypto $(PG_QUERY_LIBS) -lm -lpthread
HEADERS := $(wildcard include/*.h)

.PHONY: all clean deps test unit fuzzers fuzz demo bench lab-down
.SECONDARY:
all: pgxrd pgxrctl $(TEST_BINS) $(BENCH_BINS) $(LAB_BINS)

# apart from all: they need clang's libFuzzer runtime (libclang-rt-dev, which make deps installs)
fuzzers: $(FUZZ_BINS)

deps:
	tools/install-deps

$(OUTPUT) $(OUTPUT)/lib $(OUTPUT)/pgxrd $(OUTPUT)/pgxrctl $(OUTPUT)/tests $(OUTPUT)/bench $(OUTPUT)/fuzz $(OUTPUT)/lab:
	mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(wildcard include/pgxr_*.h) | $(OUTPUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst .bpf.o,,$(notdir $<))_bpf > $@.tmp && mv $@.tmp $@

$(OUTPUT)/lib/%.o: userspace/%.c $(HEADERS) | $(OUTPUT)/lib
	$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/pgxrd/%.o: userspace/%.c $(HEADERS) $(SKELS) | $(OUTPUT)/pgxrd
	$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/pgxrctl/%.o: tools/pgxrctl/%.c $(HEADERS) $(SKELS) $(wildcard tools/pgxrctl/*.h) | $(OUTPUT)/pgxrctl
	$(CC) $(CFLAGS) -Itools/pgxrctl -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(AR) rcs $@ $^

pgxrd: $(PGXRD_OBJS) $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(PGXRD_LIBS)

pgxrctl: $(PGXRCTL_OBJS) $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LIBS)

$(OUTPUT)/tests/%: tests/unit/%.c $(TEST_HELPERS) $(LIB) $(HEADERS) $(SKELS) | $(OUTPUT)/tests
	$(CC) $(CFLAGS) -Itests/unit $< $(TEST_HELPERS) $(LIB) -o $@ $(LIBS) -lmnl -lpq -lcrypto $(PG_QUERY_LIBS) -lm -lpthread

# the benchmark tools reuse the unit tests' packet builder
$(OUTPUT)/bench/%: vm-tests/bench/%.c $(TEST_HELPERS) $(LIB) $(HEADERS) $(SKELS) | $(OUTPUT)/bench
	$(CC) $(CFLAGS) -Itests/unit $< $(TEST_HELPERS) $(LIB) -o $@ $(LIBS) -lpthread

$(OUTPUT)/lab/%.bpf.o: vm-tests/vlan/%.bpf.c | $(OUTPUT)/lab
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/lab/vlan_wire: vm-tests/vlan/vlan_wire.c $(OUTPUT)/lab/vlan_wire.skel.h
	$(CC) $(CFLAGS) -I$(OUTPUT)/lab $< -o $@ $(LIBS)

$(OUTPUT)/fuzz/fuzz_classify: tests/fuzz/fuzz_classify.c userspace/classify.c userspace/qcache.c userspace/digest.c $(HEADERS) | $(OUTPUT)/fuzz
	$(CLANG) $(FUZZ_CFLAGS) $(filter %.c,$^) -o $@ $(PG_QUERY_LIBS) -lpthread

$(OUTPUT)/fuzz/fuzz_proto: tests/fuzz/fuzz_proto.c userspace/pgproto.c userspace/txstate.c $(HEADERS) | $(OUTPUT)/fuzz
	$(CLANG) $(FUZZ_CFLAGS) $(filter %.c,$^) -o $@

test: deps
	$(MAKE) all fuzzers
	tests/run

# long fuzzing runs: FUZZ_SECONDS per target (make test runs each a few seconds)
fuzz: deps
	$(MAKE) fuzzers
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run

unit: all
	tests/run unit

demo: deps
	$(MAKE) all
	vm-tests/demo

bench: deps
	$(MAKE) all
	vm-tests/bench/run

lab-down:
	vm-tests/lab down

clean:
	rm -rf $(OUTPUT) pgxrd pgxrctl

# test_vip includes userspace/vip.c itself (vip.c is not a shared module)
$(OUTPUT)/tests/test_vip: userspace/vip.c
# test_node includes the node store and the modules it needs
$(OUTPUT)/tests/test_node: userspace/node.c userspace/event.c userspace/evloop.c userspace/reset.c
# test_pool includes the connection cache
$(OUTPUT)/tests/test_pool: userspace/pool.c
