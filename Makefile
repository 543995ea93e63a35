# tokend - token server daemon.  Plain GNU make; pkg-config for every library.
#
#   make            build build/tokend
#   make test       build and run every test (unit + integration)
#   make asan       build and test with AddressSanitizer + UBSan (build-asan/)
#   make run        write a development config and run tokend in the foreground
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
DOCDIR	?= $(PREFIX)/share/doc/tokend
UNITDIR	?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
SYSCONFDIR ?= /etc
DESTDIR	?=
BUILD	?= build

PKGS	 = libzmq libmicrohttpd libcrypto jansson
TESTPKGS = cmocka

# A fresh machine lacks the -dev packages: install them once, before any
# pkg-config call below is evaluated (clean needs nothing).
ifeq ($(filter clean,$(MAKECMDGOALS)),)
ifneq ($(shell pkg-config --exists $(PKGS) $(TESTPKGS) && echo ok),ok)
$(info tokend: build dependencies missing, running scripts/install-deps)
$(if $(shell scripts/install-deps >&2 && echo ok),,$(error scripts/install-deps failed))
endif
endif

CC	?= cc
OPT	?= -O2
CFLAGS	?= $(OPT) -g
CFLAGS	+= -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	   -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter \
	   -MMD -MP $(shell pkg-config --cflags $(PKGS))
LDLIBS	+= $(shell pkg-config --libs $(PKGS)) -lpthread
TESTLDLIBS = $(shell pkg-config --libs $(TESTPKGS))

SRCS	 = $(wildcard src/*.c)
MAINS	 = src/main.c src/tokenctl.c
LIBSRCS	 = $(filter-out $(MAINS),$(SRCS))
LIBOBJS	 = $(LIBSRCS:src/%.c=$(BUILD)/obj/%.o)
TESTSRCS = $(wildcard tests/unit/test_*.c)
TESTBINS = $(TESTSRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test unit integration asan run install clean
all: $(BUILD)/tokend $(BUILD)/tokenctl

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libtokend.a: $(LIBOBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/tokend: $(BUILD)/obj/main.o $(BUILD)/libtokend.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tokenctl: $(BUILD)/obj/tokenctl.o $(BUILD)/libtokend.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtokend.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(BUILD)/libtokend.a \
	    $(LDLIBS) $(TESTLDLIBS)

test: $(BUILD)/tokend $(BUILD)/tokenctl $(TESTBINS)
	BUILD=$(BUILD) tests/run

unit: $(TESTBINS)
	BUILD=$(BUILD) tests/run --unit

integration: $(BUILD)/tokend $(BUILD)/tokenctl
	BUILD=$(BUILD) tests/run --integration

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -fno-omit-frame-pointer \
	    -fsanitize=address,undefined -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" test

run: $(BUILD)/tokend
	scripts/devrun $(BUILD)/tokend

install: $(BUILD)/tokend $(BUILD)/tokenctl
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/tokend \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(DOCDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(BUILD)/tokend $(DESTDIR)$(SBINDIR)/tokend
	install -m 0755 $(BUILD)/tokenctl $(DESTDIR)$(SBINDIR)/tokenctl
	install -m 0644 conf/tokend.conf \
	    $(DESTDIR)$(SYSCONFDIR)/tokend/tokend.conf.example
	install -m 0644 docs/man/tokend.8 $(DESTDIR)$(MANDIR)/man8/tokend.8
	install -m 0644 docs/man/tokend.conf.5 \
	    $(DESTDIR)$(MANDIR)/man5/tokend.conf.5
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    systemd/tokend.service > $(DESTDIR)$(UNITDIR)/tokend.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tokend.service
	install -m 0644 systemd/tokend.sysusers \
	    $(DESTDIR)$(SYSUSERSDIR)/tokend.conf

clean:
	rm -rf build build-asan

-include $(LIBOBJS:.o=.d) $(BUILD)/obj/main.d $(BUILD)/obj/tokenctl.d
