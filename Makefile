.PHONY: test test-long tools lint lint-infra moto-start moto-stop

test:
	scripts/test.sh $(ARGS)

# The long runs kept out of `make test` (#[ignore]d): a 50 x 200 execution driven to the end on
# moto's DynamoDB under throttling (~6 min).
test-long:
	scripts/test.sh --run-ignored only $(ARGS)

tools:
	scripts/tools.sh

# drctl twice: with its aws feature (the AWS commands) and without (the default build).
lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --features drctl/aws -- -D warnings
	cargo clippy -p drctl --all-targets -- -D warnings

lint-infra: tools
	scripts/lint-infra.sh

moto-start: tools
	scripts/moto.sh start

moto-stop:
	scripts/moto.sh stop

# Benchmarks of issue 6 (docs/performance.md): builds what they measure, then runs them all and
# writes bench-results/*.json. The first run compiles every function twice with the `lambda`
# profile (host binaries for init times, arm64 zips for sizes): expect half an hour.
LAMBDA_PACKAGES = -p lambda-find -p lambda-poll -p lambda-finalize -p lambda-pause -p lambda-resume -p lambda-launch -p lambda-retry -p lambda-skip -p lambda-cancel -p lambda-start -p lambda-list -p lambda-get -p lambda-events -p lambda-publish -p lambda-cleanup -p lambda-act -p lambda-advance
.PHONY: bench
bench:
	cargo bench -p execution-core --bench rules
	cargo build -p drctl
	cargo build --profile lambda --target x86_64-unknown-linux-gnu $(LAMBDA_PACKAGES)
	bash -c 'source scripts/tools.sh >/dev/null && cargo lambda build --profile lambda --arm64 --output-format zip --lambda-dir target/bench-lambda/arm64 $(LAMBDA_PACKAGES)'
	cargo run --release -p bench -- all
