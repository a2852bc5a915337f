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
HARDEN   = -fsanitize=address,undefined -fno-omit-frame-pointer -fPIE
SANLD    = -fsanitize=address,undefined
endif

CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 $(CFLAGS) $(WARN) $(HARDEN) -include config.h -I. \
             -DSYSCONFDIR='"$(sysconfdir)"' \
             $(BSD_CFLAGS) $(CONFUSE_CFLAGS) $(CRYPTO_CFLAGS)
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(SANLD) $(LDFLAGS)
LIBS_ALL = $(CONFUSE_LIBS) $(CRYPTO_LIBS) $(CRYPT_LIBS) $(UTIL_LIBS) $(BSD_LIBS)

MAINS    = server/posternd.c server/postern.c
LIB_SRC  = $(filter-out $(MAINS),$(sort $(wildcard server/*.c storage/*.c protocols/*.c)))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
HDRS     = $(wildcard server/*.h storage/*.h protocols/*.h) config.h
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
MANPAGES = $(wildcard man/*.[1-9])

.PHONY: all check demo install deps deps-ensure lint clean distclean help unit

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

$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h $(BUILD)/libpostern.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(ALL_LDFLAGS) -o $@ $< \
	    $(BUILD)/libpostern.a $(CMOCKA_LIBS) $(LIBS_ALL)

unit: $(UNIT_BIN)

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

check: deps-ensure all unit
	@BUILD=$(BUILD) PYTHON=$(PYTHON) $(PYTHON) tests/run.py

demo: deps-ensure all
	@sh contrib/demo.sh $(BUILD)

lint: deps-ensure
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	    --std=c11 --inline-suppr -I. --suppress=missingIncludeSystem \
	    server storage protocols tests/unit
	mandoc -Tlint -W warning $(MANPAGES)

DESTDIR ?=
install: all
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) $(DESTDIR)$(sysconfdir)/postern
	install -m 0755 $(BUILD)/posternd $(DESTDIR)$(sbindir)/posternd
	install -m 0755 $(BUILD)/postern $(DESTDIR)$(bindir)/postern
	install -m 0644 contrib/postern.conf $(DESTDIR)$(sysconfdir)/postern/postern.conf.sample
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
	@echo "make lint     cppcheck and mandoc -Tlint"
