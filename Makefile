# Makefile: builds posternd and postern, runs the tests, the demo and the install.
# Hand-written GNU make; ./configure (from configure.ac) writes config.h and config.mk.

BUILD    ?= build
PYTHON   ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

NOCONF_GOALS := clean distclean deps help
ifeq ($(filter $(NOCONF_GOALS),$(MAKECMDGOALS)),)
-include config.mk
endif

WARN     = -Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith -Wmissing-prototypes \
           -Wstrict-prototypes -Wno-unused-parameter
ifneq ($(CI)$(WERROR),)
WARN    += -Werror
endif
HARDEN   = -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
ifneq ($(SANITIZE),)
BUILD    = build/san
HARDEN   = -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer -fPIE
SANLD    = -fsanitize=address,undefined
# Any report ends the process that made it with a non-zero status, so a
# suite notices it; a forked worker's report lands in posternd's log,
# which tests/lib/postern.py scans (Server.check_sanitizers).
export ASAN_OPTIONS  ?= abort_on_error=1:halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS ?= abort_on_error=1:halt_on_error=1:print_stacktrace=1
endif

CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 $(CFLAGS) $(WARN) $(HARDEN) -include config.h -I. \
             -DSYSCONFDIR='"$(sysconfdir)"' \
             $(BSD_CFLAGS) $(CONFUSE_CFLAGS) $(CRYPTO_CFLAGS) $(TLS_CFLAGS)
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(SANLD) $(LDFLAGS)
LIBS_ALL = $(CONFUSE_LIBS) $(TLS_LIBS) $(CRYPTO_LIBS) $(CRYPT_LIBS) $(PAM_LIBS) \
           $(UTIL_LIBS) $(BSD_LIBS)

MAINS    = server/posternd.c server/postern.c
LIB_SRC  = $(filter-out $(MAINS),$(sort $(wildcard server/*.c storage/*.c protocols/*.c)))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
HDRS     = $(wildcard server/*.h storage/*.h protocols/*.h) config.h
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
MANPAGES = $(wildcard man/*.[1-9])

.PHONY: all check demo install deps deps-ensure lint clean distclean help unit \
        fuzz fuzz-build replay bench coverage

all: $(BUILD)/posternd $(BUILD)/postern

$(BUILD)/obj/%.o: %.c $(HDRS) config.mk
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libpostern.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/posternd: $(BUILD)/obj/server/posternd.o $(BUILD)/libpostern.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_ALL)

$(BUILD)/postern: $(BUILD)/obj/server/postern.o $(BUILD)/libpostern.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_ALL)

# Each test is linked with tests/unit/fixture.c, the shared fixtures.
$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h tests/unit/fixture.c \
    tests/unit/fixture.h $(BUILD)/libpostern.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(ALL_LDFLAGS) -o $@ $< \
	    tests/unit/fixture.c $(BUILD)/libpostern.a $(CMOCKA_LIBS) $(LIBS_ALL)

unit: $(UNIT_BIN)

# Fuzzing (fuzz/README.md).  Each fuzz/fuzz_NAME.c is a libFuzzer harness,
# built with clang and the sanitizers against its own instrumented copy of
# the library in $(BUILD)/fuzz/obj; the same harness with fuzz/replay.c's
# main(), built as everything else, replays the corpora in `make check`.
ifeq ($(origin FUZZ_CC),undefined)
FUZZ_CC := $(shell command -v clang-14 2>/dev/null || echo clang)
endif
FUZZ_SECONDS ?= 60
FUZZ_DIR    = $(BUILD)/fuzz
FUZZ_NAMES  = $(patsubst fuzz/fuzz_%.c,%,$(sort $(wildcard fuzz/fuzz_*.c)))
FUZZ_SAN    = -fsanitize=address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
# Without -Werror: gcc's warnings are the build's gate, and clang's extra
# ones (clang-tidy reports them in `make lint`) must not stop a fuzz run.
FUZZ_CFLAGS = -std=c11 -g -O1 $(filter-out -Werror,$(WARN)) $(FUZZ_SAN) \
              -include config.h -I. \
              -DSYSCONFDIR='"$(sysconfdir)"' \
              $(BSD_CFLAGS) $(CONFUSE_CFLAGS) $(CRYPTO_CFLAGS) $(TLS_CFLAGS)
FUZZ_LIBOBJ = $(LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o) $(FUZZ_DIR)/obj/fuzz/common.o
FUZZ_BIN    = $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)
REPLAY_BIN  = $(FUZZ_NAMES:%=$(FUZZ_DIR)/replay_%)
# libFuzzer options per harness: input sizes and dictionaries.
FUZZ_ARGS_io           = -max_len=8192
FUZZ_ARGS_maildir_name = -max_len=1100
FUZZ_ARGS_passwd       = -max_len=5000 -dict=fuzz/passwd.dict
FUZZ_ARGS_conf         = -max_len=4096 -dict=fuzz/conf.dict
FUZZ_ARGS_pop3         = -max_len=4096 -dict=fuzz/pop3.dict
FUZZ_ARGS_base64       = -max_len=4096 -dict=fuzz/base64.dict
FUZZ_ARGS_index        = -max_len=2048 -dict=fuzz/index.dict
FUZZ_ARGS_pop1         = -max_len=4096 -dict=fuzz/pop1.dict
FUZZ_ARGS_papm         = -max_len=4096 -dict=fuzz/papm.dict
FUZZ_ARGS_lmtp         = -max_len=4096 -dict=fuzz/lmtp.dict
FUZZ_ARGS_mrp          = -max_len=4096 -dict=fuzz/mrp.dict
FUZZ_ARGS_proxy        = -max_len=1300 -dict=fuzz/proxy.dict
FUZZ_ARGS_tls          = -max_len=8192
# A fixed seed keeps CI's one-minute smoke run the same from run to run;
# FUZZ_SEED=0 lets libFuzzer pick one, for longer hunts.
FUZZ_SEED ?= 1
FUZZ_ARGS = -timeout=10 -rss_limit_mb=2048 -close_fd_mask=2 \
            -seed=$(FUZZ_SEED) \
            -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/

$(FUZZ_DIR)/obj/%.o: %.c $(HDRS) fuzz/common.h fuzz/session.h config.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

# Kept after a build: only pattern rules name them, which would make them
# intermediate files that make deletes.
.SECONDARY: $(FUZZ_LIBOBJ) $(FUZZ_DIR)/obj/fuzz/session.o

$(FUZZ_DIR)/fuzz_%: fuzz/fuzz_%.c fuzz/common.h fuzz/session.h $(FUZZ_LIBOBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -pthread -o $@ \
	    $(filter-out %.h,$^) $(LIBS_ALL)

REPLAY_OBJ  = $(FUZZ_NAMES:%=$(BUILD)/obj/fuzz/fuzz_%.o) \
              $(BUILD)/obj/fuzz/replay.o $(BUILD)/obj/fuzz/common.o \
              $(BUILD)/obj/fuzz/session.o
$(REPLAY_OBJ): fuzz/common.h fuzz/session.h

# The session harnesses also link fuzz/session.c, their shared fixture
# (and crypt(3) stub): only they, so that no other harness gets the stub.
FUZZ_SESSIONS = pop3 pop1 papm lmtp mrp
$(FUZZ_SESSIONS:%=$(FUZZ_DIR)/fuzz_%): $(FUZZ_DIR)/obj/fuzz/session.o
$(FUZZ_SESSIONS:%=$(FUZZ_DIR)/replay_%): $(BUILD)/obj/fuzz/session.o

$(FUZZ_DIR)/replay_%: $(BUILD)/obj/fuzz/fuzz_%.o $(BUILD)/obj/fuzz/replay.o \
    $(BUILD)/obj/fuzz/common.o $(BUILD)/libpostern.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -pthread -o $@ $(filter %.o,$^) \
	    $(filter %.a,$^) $(LIBS_ALL)

fuzz-build: deps-ensure $(FUZZ_BIN)

replay: $(REPLAY_BIN)

# make fuzz [FUZZ_SECONDS=60]: each harness in turn for that long, from the
# seeds in fuzz/corpus/NAME and fuzz/regress/NAME; what it learns goes to
# $(FUZZ_DIR)/corpus/NAME, a crash to $(FUZZ_DIR)/crash-* and fails.
fuzz: fuzz-build
	@$(foreach n,$(FUZZ_NAMES),sh fuzz/run.sh $(FUZZ_DIR) $(n) \
	    $(FUZZ_SECONDS) $(FUZZ_ARGS) $(FUZZ_ARGS_$(n)) &&) true

# make bench: Postern against Dovecot (bench/README.md), as root; takes
# about 15 minutes (BENCH_QUICK=1: about 2) and writes bench/RESULTS.md.
# popload, its load generator, and barepop, the bare reader it measures
# beside the servers, are built here only, never by make check.
$(BUILD)/popload: bench/popload.c config.h config.mk
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ bench/popload.c $(BSD_LIBS)

$(BUILD)/barepop: bench/barepop.c config.h config.mk
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ bench/barepop.c $(BSD_LIBS)

bench: all $(BUILD)/popload $(BUILD)/barepop
	@BUILD=$(BUILD) $(PYTHON) bench/run

# Configuration: deps first, so that a fresh Debian machine needs nothing by hand.
configure: configure.ac
	@sh contrib/deps.sh ensure
	autoreconf -fi

config.h config.mk &: configure config.mk.in
	@sh contrib/deps.sh ensure
	./configure --prefix=$(or $(PREFIX),/usr/local) \
	    --sysconfdir=$(or $(SYSCONFDIR),/etc) $(CONFIGURE_FLAGS)
	@touch config.h config.mk

deps:
	@sh contrib/deps.sh install

deps-ensure:
	@sh contrib/deps.sh ensure

check: deps-ensure all unit replay
	@BUILD=$(BUILD) PYTHON=$(PYTHON) $(PYTHON) tests/run.py

demo: deps-ensure all
	@sh contrib/demo.sh $(BUILD)

# coverage: which lines the tests run (tests/coverage.sh), in build/cov.
coverage: deps-ensure
	@sh tests/coverage.sh

# lint: cppcheck, then clang-tidy with .clang-tidy's checks (any finding
# fails, two files at a time), then the manual pages.
ifeq ($(origin TIDY),undefined)
TIDY := $(shell command -v clang-tidy-14 2>/dev/null || echo clang-tidy)
endif
LINT_SRC   = $(sort $(wildcard server/*.c storage/*.c protocols/*.c \
             fuzz/*.c bench/*.c tests/unit/*.c))
# (SYSCONFDIR's quotes escaped: these flags go through a second shell.)
TIDY_FLAGS = -std=c11 -include config.h -I. -DSYSCONFDIR=\"$(sysconfdir)\" \
             $(BSD_CFLAGS) $(CONFUSE_CFLAGS) $(CRYPTO_CFLAGS) $(TLS_CFLAGS) \
             $(CMOCKA_CFLAGS)

lint: deps-ensure
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	    --std=c11 --inline-suppr -I. --suppress=missingIncludeSystem \
	    server storage protocols tests/unit fuzz bench
	@echo "$(TIDY) on $(words $(LINT_SRC)) files"
	@printf '%s\n' $(LINT_SRC) | xargs -P2 -n2 sh -c \
	    'out=$$($(TIDY) --quiet "$$@" -- $(TIDY_FLAGS) 2>&1); rc=$$?; \
	    printf "%s\n" "$$out" | grep -v "warnings* .*generated\.$$" | \
	    grep . ; exit $$rc' tidy
	mandoc -Tlint -W warning $(MANPAGES)

DESTDIR ?=
install: all
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) $(DESTDIR)$(sysconfdir)/postern
	install -m 0755 $(BUILD)/posternd $(DESTDIR)$(sbindir)/posternd
	install -m 0755 $(BUILD)/postern $(DESTDIR)$(bindir)/postern
	install -m 0644 contrib/postern.conf $(DESTDIR)$(sysconfdir)/postern/postern.conf.sample
	install -d -m 0755 $(DESTDIR)/var/lib/postern
	@for m in $(MANPAGES); do \
	    s=$${m##*.}; install -d $(DESTDIR)$(mandir)/man$$s; \
	    echo install -m 0644 $$m $(DESTDIR)$(mandir)/man$$s/; \
	    install -m 0644 $$m $(DESTDIR)$(mandir)/man$$s/ || exit 1; done

clean:
	rm -rf build

distclean: clean
	rm -rf configure config.h config.h.in config.h.in~ config.mk config.log \
	    config.status autom4te.cache aclocal.m4 demo

help:
	@echo "make          build build/posternd and build/postern"
	@echo "make check    install missing Debian packages, build, run every test"
	@echo "make demo     install, build, run the demo server in the foreground"
	@echo "make install  PREFIX=/usr/local DESTDIR= (sysconfdir, mandir from configure)"
	@echo "make deps     install the Debian packages the build and tests need"
	@echo "make lint     cppcheck, clang-tidy (.clang-tidy) and mandoc -Tlint"
	@echo "make check SANITIZE=1   every test with ASan and UBSan, in build/san"
	@echo "make fuzz     each fuzz/ harness for FUZZ_SECONDS=60 (fuzz/README.md)"
	@echo "make coverage the lines no test runs (tests/coverage.sh)"
