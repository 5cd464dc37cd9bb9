# Thin wrapper over Meson. The README's two commands are `make run` and `make check`.
BUILD   ?= build
ASAN    ?= build-asan
PYTEST  ?= /usr/bin/python3 -m pytest
FUZZ_SECONDS ?= 30

.PHONY: all deps build run check unit asan pytest fuzz fuzz-brief install clean

all: build

deps:
	@sh scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Until the SMTP server exists, `make run` shows the build and the main options of the embedded
# default configuration (spool and logs under ./var, port 2525 on 127.0.0.1).
# The daemon in the foreground on the embedded configuration: 127.0.0.1:2525, spool and logs under
# ./var (given to the configured exim user, which the sessions run as). Ctrl-C stops it.
run: build
	@mkdir -p var/spool var/log
	@if [ "$$(id -u)" = 0 ]; then chown -R "$$($(BUILD)/postern -C @builtin -bP -n exim_user):$$($(BUILD)/postern -C @builtin -bP -n exim_group)" var; fi
	$(BUILD)/postern -C @builtin -bP daemon_smtp_ports local_interfaces spool_directory log_file_path
	@echo "postern: listening on 127.0.0.1:2525; log in var/log/mainlog; Ctrl-C stops it"
	exec $(BUILD)/postern -C @builtin -bdf

unit: build
	meson test -C $(BUILD) --print-errorlogs

$(ASAN)/build.ninja:
	CC=clang meson setup $(ASAN) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

asan: deps $(ASAN)/build.ninja
	ninja -C $(ASAN)
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN) --print-errorlogs

pytest: build
	POSTERN=$(CURDIR)/$(BUILD)/postern $(PYTEST) -q tests/scenario

# C unit tests, the ASan/UBSan unit tests, then pytest (its summary line is printed last).
check: unit asan fuzz-brief pytest

fuzz: deps
	test -f build-fuzz/build.ninja || CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
	ninja -C build-fuzz fuzz-targets
	sh tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

install: build
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN) build-fuzz

# A short run of every fuzz target, part of `make check`.
fuzz-brief:
	$(MAKE) fuzz FUZZ_SECONDS=10
