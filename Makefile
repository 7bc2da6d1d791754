# Dermaga: the two commands are `make run` and `make test`. Both install what is missing.
BUILD      ?= build
JOBS       ?= 2
BUILD_TYPE ?= RelWithDebInfo
ADDR       ?= 127.0.0.1:5000
DATA       ?= ./data

# Debian bookworm packages: toolchain and libraries, then what the test suites drive.
BUILD_DEPS := build-essential cmake ninja-build pkg-config libboost1.81-dev libssl-dev \
              libsqlite3-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev \
              libyaml-cpp-dev libexpected-dev libgtest-dev libgmock-dev libbenchmark-dev \
              libsodium-dev libcrypt-dev libldap-dev libpq-dev libcurl4-openssl-dev
TEST_DEPS  := curl jq openssl python3 iproute2 sqlite3 skopeo podman buildah containerd umoci busybox-static \
              ceph-mon ceph-osd radosgw ceph-common uuid-runtime \
              docker-registry slapd ldap-utils prometheus postgresql haproxy
# docker.io brings dockerd (test_dockerd.sh) and a docker CLI; a machine that already has a
# Docker engine (docker-ce conflicts with docker.io) keeps its own.
DOCKER_DEP := $(if $(shell command -v dockerd 2>/dev/null),,docker.io)

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: all deps test-deps build run test unit api e2e bench fmt lint clean

all: build

# Installs only the packages that are missing, so a prepared machine does no apt work.
define apt_install
	@missing="$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done)"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call apt_install,$(BUILD_DEPS))

test-deps: deps
	$(call apt_install,$(TEST_DEPS) $(DOCKER_DEP))

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/src/cli/dermaga serve --addr $(ADDR) --data $(DATA)

# Every suite: unit, api, e2e (real clients). ctest prints the closing summary.
test: test-deps build
	cd $(BUILD) && ctest --output-on-failure --timeout 1500

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

api: build
	cd $(BUILD) && ctest --output-on-failure -L api

e2e: test-deps build
	cd $(BUILD) && ctest --output-on-failure -L e2e

bench: test-deps build
	bash bench/run.sh $(BUILD)/bench/dermaga-loadgen $(BUILD)/src/cli/dermaga
	bash bench/scale-out.sh $(BUILD)/bench/dermaga-loadgen $(BUILD)/src/cli/dermaga

LINT_DEPS  := clang-format clang-tidy

fmt:
	$(call apt_install,$(LINT_DEPS))
	find src tests bench -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i

lint: build
	$(call apt_install,$(LINT_DEPS))
	find src -name '*.cpp' -not -path '*/tests/*' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf $(BUILD)
