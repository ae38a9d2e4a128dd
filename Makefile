# Thin wrapper around CMake. Every target that needs packages installs the missing ones first.
BUILD    ?= build
ASAN_BUILD ?= build-asan
RUN_ROOT ?= $(CURDIR)/$(BUILD)/run-root
JOBS     ?= $(shell nproc)

# Debian packages the build, the tests and the example images need.
PKGS := build-essential cmake pkg-config clang \
        libyaml-dev libcjson-dev libuv1-dev libcurl4-openssl-dev libseccomp-dev \
        libhttp-parser-dev libarchive-dev libssl-dev libcmocka-dev bats musl-tools \
        busybox-static nginx-light skopeo curl jq iproute2 util-linux procps psmisc python3 openssl \
        containernetworking-plugins iptables

.PHONY: all deps build build-asan images run test test-asan bench clean fuzz format

all: build

deps:
	@missing=$$(for p in $(PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all packages present"; fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMK_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)

images: build
	examples/images/build-all.sh $(BUILD)/images

run: build images
	mkdir -p $(RUN_ROOT)/var/lib/mini-kubelet/images/import
	cp -n $(BUILD)/images/*.tar $(RUN_ROOT)/var/lib/mini-kubelet/images/import/ 2>/dev/null || true
	exec $(BUILD)/mini-kubelet --root-dir $(RUN_ROOT) --manifest-dir $(CURDIR)/examples/manifests

test: build images build-asan
	cd $(BUILD) && MK_IMAGES=$(CURDIR)/$(BUILD)/images ctest --output-on-failure --timeout 600
	cd $(ASAN_BUILD) && MK_IMAGES=$(CURDIR)/$(BUILD)/images ctest --output-on-failure --timeout 900

bench: build images
	bench/run.sh $(BUILD)

fuzz: deps
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DMK_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS) --target fuzz_all
	@echo "run one (new inputs go to the first dir): mkdir -p /tmp/corpus &&" \
	  "build-fuzz/tests/<target> -max_total_time=180 /tmp/corpus tests/fuzz/corpus/<target>"

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
