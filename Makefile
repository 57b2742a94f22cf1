# xendm: the two commands a user needs are `make run` and `make check`.
# Both install what is missing (Debian 12, apt-get) and build first.

BUILDDIR ?= build
ASANDIR ?= build-asan
FUZZDIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = tests/fuzz/fuzz-ioreq tests/fuzz/fuzz-vmstate tests/fuzz/fuzz-qmp \
	tests/fuzz/fuzz-options tests/fuzz/fuzz-ide tests/fuzz/fuzz-mmc tests/fuzz/fuzz-virtqueue \
	tests/fuzz/fuzz-e1000 tests/fuzz/fuzz-vga
PREFIX ?= /usr/local
NINJA ?= ninja

.PHONY: all deps build asan fuzz-build run demo-xensim check check-quick check-xen bench fuzz \
	install clean help

all: build

help:
	@echo "make run      build, boot Xen + dom0 under QEMU, xl create a guest with xendm as its"
	@echo "              device model and show the guest's serial console"
	@echo "make check    build (plain and ASan/UBSan) and run every test, the real-Xen rig's too"
	@echo "make check-xen      only the real-Xen rig's scenarios (xendm and qemu-xen)"
	@echo "make demo-xensim    a short watched session of xendm under xensim (no Xen needed)"
	@echo "make bench    benchmarks against qemu-xen, measured in the same run"
	@echo "make fuzz     each libFuzzer target for FUZZ_SECONDS (default 60), see docs/security.md"
	@echo "make install  install xendm under PREFIX ($(PREFIX))"

deps:
	@scripts/install-deps.sh --if-missing

$(BUILDDIR)/build.ninja: | deps
	./configure --builddir=$(BUILDDIR) --prefix=$(PREFIX)

$(ASANDIR)/build.ninja: | deps
	./configure --builddir=$(ASANDIR) --enable-sanitizers --buildtype=debug

build: deps $(BUILDDIR)/build.ninja
	$(NINJA) -C $(BUILDDIR)

asan: deps $(ASANDIR)/build.ninja
	$(NINJA) -C $(ASANDIR)

# The libFuzzer harnesses: a clang build with ASan and UBSan (tests/fuzz/run-fuzz.sh).
$(FUZZDIR)/build.ninja: | deps
	tests/fuzz/run-fuzz.sh setup $(FUZZDIR)

fuzz-build: deps $(FUZZDIR)/build.ninja
	$(NINJA) -C $(FUZZDIR) $(FUZZ_TARGETS)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run-fuzz.sh all $(FUZZDIR)

run: build
	tests/xen/rig.py --build $(BUILDDIR) run demo --dm xendm --show-serial

demo-xensim: build
	scripts/demo.sh $(BUILDDIR)

check: build asan fuzz-build
	scripts/run-tests.py $(BUILDDIR) $(ASANDIR) $(FUZZDIR):fuzz

check-quick: build
	scripts/run-tests.py $(BUILDDIR) -- --no-suite xen

check-xen: build
	tests/xen/rig.py --build $(BUILDDIR) run

bench: build
	scripts/bench.sh $(BUILDDIR)

install: build
	meson install -C $(BUILDDIR)

clean:
	rm -rf $(BUILDDIR) $(ASANDIR) $(FUZZDIR)
