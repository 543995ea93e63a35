# tokend - token server daemon.  Plain GNU make; pkg-config for every library.
#
#   make            build build/tokend
#   make test       build and run every test (unit + integration)
#   make asan       build and test with AddressSanitizer + UBSan (build-asan/)
#   make run        write a development config and run tokend in the foreground
#   make install    PREFIX=/usr/local DESTDIR=
#   make install-lib  only libtokend-verify: library, header, pkg-config file

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
DOCDIR	?= $(PREFIX)/share/doc/tokend
UNITDIR	?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
SYSCONFDIR ?= /etc
LIBDIR	?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR	?=
BUILD	?= build

# libcurl: the HTTPS client that fetches issuers' jwks_url (src/identity/keys.c).
# sqlite3 and libpq: the node-assignment database (src/store/): SQLite is
# the embedded default that needs no server, PostgreSQL the one several
# tokend hosts share.  Both speak SQL with prepared statements, bounded
# waits and the transactions Mozilla's rules need; writing either by hand
# is out of the question.
PKGS	 = libzmq libmicrohttpd libcrypto jansson libcurl libseccomp sqlite3 \
	   libpq
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
	   -MMD -MP -Isrc $(shell pkg-config --cflags $(PKGS))
LDLIBS	+= $(shell pkg-config --libs $(PKGS)) -lpthread
TESTLDLIBS = $(shell pkg-config --libs $(TESTPKGS))

# src/ holds the process roles; its folders the parts they are made of
# (docs/architecture.md has the map, scripts/check-layout the rules).
SRCS	 = $(wildcard src/*.c src/core/*.c src/http/*.c src/pool/*.c \
	   src/identity/*.c src/tokens/*.c src/store/*.c src/tools/*.c)
MAINS	 = src/main.c src/tools/tokenctl.c
LIBSRCS	 = $(filter-out $(MAINS),$(SRCS))
LIBOBJS	 = $(LIBSRCS:src/%.c=$(BUILD)/obj/%.o)
TESTSRCS = $(wildcard tests/unit/test_*.c)
TESTBINS = $(TESTSRCS:tests/unit/%.c=$(BUILD)/tests/%)

# libtokend-verify: the token formats for services (src/lib/tokend/verify.h),
# built from the same sources tokend mints with, plus the public wrapper.
# Its objects are compiled apart (-fPIC, hidden visibility): only the
# tokend_ functions are exported, from the .so and, once the objects are
# merged and their hidden symbols made local, from the .a too.  It needs
# libcrypto and jansson, never libzmq or libmicrohttpd.
VERIFY_VERSION = 1.0.0
VERIFY_SOVER = 1
VERIFY_PKGS = libcrypto jansson
VERIFY_SRCS = src/lib/verify.c src/tokens/token.c src/tokens/tokenlib.c \
	      src/tokens/fernet.c src/tokens/secret.c src/core/hkdf.c \
	      src/core/b64.c
VERIFY_OBJS = $(VERIFY_SRCS:src/%.c=$(BUILD)/vobj/%.o)
VERIFY_SO = $(BUILD)/libtokend-verify.so.$(VERIFY_VERSION)
VERIFY_A = $(BUILD)/libtokend-verify.a
VERIFY_EXAMPLE = $(BUILD)/tokend-verify-example
VERIFY = $(VERIFY_SO) $(VERIFY_A) $(VERIFY_EXAMPLE)

.PHONY: all test unit integration asan run install install-lib clean
all: $(BUILD)/tokend $(BUILD)/tokenctl $(VERIFY)

# The include rules of src/ (scripts/check-layout): a file that includes
# across a forbidden boundary, or a front object that needs a symbol of
# identity/, tokens/ or store/, fails the build.
$(BUILD)/layout.ok: scripts/check-layout $(SRCS) $(wildcard src/*.h \
    src/*/*.h) $(LIBOBJS) $(BUILD)/obj/main.o
	scripts/check-layout --objects $(BUILD)/obj
	touch $@

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# What /__version__ and tokend -V say (src/core/version.c): version.inc is
# rewritten by scripts/version-gen only when the tag, VERSION, commit or
# dirtiness changed, so only then is version.o rebuilt.
$(BUILD)/gen/version.inc: FORCE
	@scripts/version-gen $@
$(BUILD)/obj/core/version.o: $(BUILD)/gen/version.inc
$(BUILD)/obj/core/version.o: CFLAGS += -I$(BUILD)/gen
.PHONY: FORCE
FORCE:

$(BUILD)/libtokend.a: $(LIBOBJS)
	rm -f $@
	ar rcs $@ $^

# libmicrohttpd is linked statically into tokend so that -Wl,--wrap=recv
# can point its recv() calls, and only its, at the HTTP guard
# (src/http/guardio.c): every byte it parses has been framed strictly first.
# Debian's libmicrohttpd-dev ships the archive; its TLS dependency stays a
# shared library.
MHD_STATIC = -Wl,--wrap=recv -l:libmicrohttpd.a -lgnutls
TOKEND_LDLIBS = $(filter-out -lmicrohttpd,$(LDLIBS)) $(MHD_STATIC)

$(BUILD)/tokend: $(BUILD)/obj/main.o $(BUILD)/libtokend.a $(BUILD)/layout.ok
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(BUILD)/obj/main.o \
	    $(BUILD)/libtokend.a $(TOKEND_LDLIBS)

# tokenctl checks tokens through libtokend-verify, as a service would.
$(BUILD)/obj/tools/tokenctl.o: CFLAGS += -Isrc/lib
$(BUILD)/tokenctl: $(BUILD)/obj/tools/tokenctl.o $(VERIFY_A) \
    $(BUILD)/libtokend.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/vobj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -Isrc -Isrc/lib -c -o $@ $<

$(VERIFY_SO): $(VERIFY_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,--no-undefined \
	    -Wl,-soname,libtokend-verify.so.$(VERIFY_SOVER) -o $@ $^ \
	    $(shell pkg-config --libs $(VERIFY_PKGS)) -lpthread
	ln -sf libtokend-verify.so.$(VERIFY_VERSION) \
	    $(BUILD)/libtokend-verify.so.$(VERIFY_SOVER)
	ln -sf libtokend-verify.so.$(VERIFY_SOVER) $(BUILD)/libtokend-verify.so

$(VERIFY_A): $(VERIFY_OBJS)
	rm -f $@ $(BUILD)/vobj/tokend-verify.o
	$(LD) -r -o $(BUILD)/vobj/tokend-verify.o $^
	objcopy --localize-hidden $(BUILD)/vobj/tokend-verify.o
	ar rcs $@ $(BUILD)/vobj/tokend-verify.o

# The library's example service, linked as a service would link it; the
# integration tests check tokend's tokens through it.
$(VERIFY_EXAMPLE): src/lib/example.c $(VERIFY_SO)
	$(CC) $(CFLAGS) -Isrc/lib $(LDFLAGS) -o $@ $< -L$(BUILD) \
	    -ltokend-verify -Wl,-rpath,'$$ORIGIN'

# The helpers every unit test shares (tests/unit/testutil.h), linked into
# each of them.
TESTUTIL = $(BUILD)/tests/testutil.o

$(TESTUTIL): tests/unit/testutil.c tests/unit/testutil.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h $(TESTUTIL) \
    $(BUILD)/libtokend.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(TESTUTIL) \
	    $(BUILD)/libtokend.a $(LDLIBS) $(TESTLDLIBS)

# The library's test goes through the shared build (the internals it mints
# with come from libtokend.a; the .so exports nothing else to clash).
$(BUILD)/tests/test_verify: tests/unit/test_verify.c tests/unit/testutil.h \
    $(TESTUTIL) $(VERIFY_SO) $(BUILD)/libtokend.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Isrc -Isrc/lib $(LDFLAGS) -o $@ $< $(TESTUTIL) \
	    -L$(BUILD) -ltokend-verify -Wl,-rpath,'$$ORIGIN/..' \
	    $(BUILD)/libtokend.a $(LDLIBS) $(TESTLDLIBS)

# make test runs the fuzz smoke run too (tests/run counts one test per
# harness), except under make asan: the harnesses are sanitizer builds
# already.  TEST_FUZZ=0 leaves it out.
TEST_FUZZ ?= 1
TEST_FUZZ_TIME ?= 15
test: $(BUILD)/tokend $(BUILD)/tokenctl $(VERIFY) $(TESTBINS) \
    $(if $(filter 1,$(TEST_FUZZ)),fuzz)
	BUILD=$(BUILD) FUZZ_TIME=$(if $(filter 1,$(TEST_FUZZ)),$(TEST_FUZZ_TIME)) \
	    tests/run

unit: $(TESTBINS)
	BUILD=$(BUILD) tests/run --unit

integration: $(BUILD)/tokend $(BUILD)/tokenctl $(VERIFY)
	BUILD=$(BUILD) tests/run --integration

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -fno-omit-frame-pointer \
	    -fsanitize=address,undefined -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" TEST_FUZZ=0 test

run: $(BUILD)/tokend
	scripts/devrun $(BUILD)/tokend

install: $(BUILD)/tokend $(BUILD)/tokenctl install-lib
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/tokend \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(DOCDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(BUILD)/tokend $(DESTDIR)$(SBINDIR)/tokend
	install -m 0755 $(BUILD)/tokenctl $(DESTDIR)$(SBINDIR)/tokenctl
	install -m 0644 conf/tokend.conf \
	    $(DESTDIR)$(SYSCONFDIR)/tokend/tokend.conf.example
	install -m 0644 docs/man/tokend.8 $(DESTDIR)$(MANDIR)/man8/tokend.8
	install -m 0644 docs/man/tokend.conf.5 \
	    $(DESTDIR)$(MANDIR)/man5/tokend.conf.5
	install -m 0644 docs/man/tokenctl.1 $(DESTDIR)$(MANDIR)/man1/tokenctl.1
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    systemd/tokend.service > $(DESTDIR)$(UNITDIR)/tokend.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tokend.service
	install -m 0644 systemd/tokend.sysusers \
	    $(DESTDIR)$(SYSUSERSDIR)/tokend.conf

install-lib: $(VERIFY)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/tokend \
	    $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0644 src/lib/tokend/verify.h \
	    $(DESTDIR)$(INCLUDEDIR)/tokend/verify.h
	install -m 0755 $(VERIFY_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libtokend-verify.so.$(VERIFY_VERSION) \
	    $(DESTDIR)$(LIBDIR)/libtokend-verify.so.$(VERIFY_SOVER)
	ln -sf libtokend-verify.so.$(VERIFY_SOVER) \
	    $(DESTDIR)$(LIBDIR)/libtokend-verify.so
	install -m 0644 $(VERIFY_A) $(DESTDIR)$(LIBDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|g' \
	    -e 's|@VERSION@|$(VERIFY_VERSION)|g' src/lib/tokend-verify.pc.in \
	    > $(DESTDIR)$(PKGCONFIGDIR)/tokend-verify.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/tokend-verify.pc
	@# The loader's cache, as zlib's install refreshes it: a program linked
	@# with the shared library then finds it in LIBDIR when ld.so.conf
	@# lists LIBDIR (Debian lists /usr/local/lib); else an rpath
	@# (docs/deployment.md).  Not for a staged install, nor without root.
	if [ -z "$(DESTDIR)" ]; then ldconfig 2>/dev/null || true; fi

clean:
	rm -rf build build-asan

-include $(LIBOBJS:.o=.d) $(BUILD)/obj/main.d $(BUILD)/obj/tools/tokenctl.d \
    $(VERIFY_OBJS:.o=.d)

# ---- fuzzing (tests/fuzz/README.md) -----------------------------------
#
#   make fuzz         builds one libFuzzer binary per tests/fuzz/NAME/ in
#                     $(BUILD)/fuzz/fuzz_NAME (clang, ASan + UBSan)
#   make fuzz-smoke   runs each for FUZZ_TIME seconds over its seed corpus
#                     and fails on any crash, leak or hang
#
# The parsers are compiled again with the fuzz flags (coverage for
# libFuzzer, the sanitizers), never taken from the normal objects.
# -Wno-string-concatenation: clang's guess that two adjacent literals in
# an array of strings lack a comma, wrong for the wrapped messages here.
# -Wno-missing-field-initializers: clang, unlike gcc, warns of the { NULL }
# that ends each config table.
FUZZ_CC	 = clang
# 15 s each keeps the smoke run of all nine harnesses under three minutes
# on the 2-core CI machine.
FUZZ_TIME ?= 15
FUZZDIR	 = $(BUILD)/fuzz
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = $(CFLAGS) -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) \
	   -Wno-string-concatenation -Wno-missing-field-initializers
FUZZ_LIBSRCS = $(wildcard src/core/*.c src/identity/*.c src/tokens/*.c \
	   src/store/*.c) src/http/httpguard.c src/http/jsonflat.c src/config.c \
	   src/http/api.c src/pool/protocol.c src/pool/curve.c src/pool/stats.c \
	   src/tools/jwtgen.c \
	   src/tools/promtext.c src/tools/status.c
FUZZ_LIBOBJS = $(FUZZ_LIBSRCS:src/%.c=$(FUZZDIR)/obj/%.o)
FUZZ_SRCS = $(wildcard tests/fuzz/*/fuzz_*.c)
FUZZ_BINS = $(addprefix $(FUZZDIR)/,$(basename $(notdir $(FUZZ_SRCS))))

# clang and its libFuzzer runtime come from scripts/install-deps too.
ifneq ($(filter fuzz fuzz-smoke test,$(MAKECMDGOALS)),)
ifeq ($(wildcard $(shell $(FUZZ_CC) -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.fuzzer-*.a),)
$(info tokend: $(FUZZ_CC) or libFuzzer missing, running scripts/install-deps)
$(if $(shell scripts/install-deps >&2 && echo ok),,$(error scripts/install-deps failed))
endif
endif

.PHONY: fuzz fuzz-smoke
fuzz: $(FUZZ_BINS)

fuzz-smoke: $(FUZZ_BINS)
	tests/fuzz/smoke $(FUZZDIR) $(FUZZ_TIME)

$(FUZZDIR)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZDIR)/libtokend-fuzz.a: $(FUZZ_LIBOBJS)
	rm -f $@
	ar rcs $@ $^

# One rule per harness: tests/fuzz/NAME/fuzz_NAME.c -> $(FUZZDIR)/fuzz_NAME.
define FUZZ_RULE
$(FUZZDIR)/$(basename $(notdir $(1))): $(1) tests/fuzz/fuzz.h \
    $(FUZZDIR)/libtokend-fuzz.a
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$< \
	    $(FUZZDIR)/libtokend-fuzz.a $$(LDLIBS)
endef
$(foreach src,$(FUZZ_SRCS),$(eval $(call FUZZ_RULE,$(src))))

-include $(FUZZ_LIBOBJS:.o=.d) $(FUZZ_BINS:=.d)
