# xendm: the two commands a user needs are `make run` and `make check`.
# Both install what is missing (Debian 12, apt-get) and build first.

BUILDDIR ?= build
ASANDIR ?= build-asan
PREFIX ?= /usr/local
NINJA ?= ninja

.PHONY: all deps build asan run check check-quick bench install clean help

all: build

help:
	@echo "make run      build, then start xendm under xensim and drive a short watched session"
	@echo "make check    build (plain and ASan/UBSan) and run every test"
	@echo "make bench    benchmarks against qemu-xen, measured in the same run"
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

run: build
	scripts/demo.sh $(BUILDDIR)

check: build asan
	scripts/run-tests.py $(BUILDDIR) $(ASANDIR)

check-quick: build
	scripts/run-tests.py $(BUILDDIR)

bench: build
	scripts/bench.sh $(BUILDDIR)

install: build
	meson install -C $(BUILDDIR)

clean:
	rm -rf $(BUILDDIR) $(ASANDIR)
