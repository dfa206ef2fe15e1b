.PHONY: test tools lint lint-infra moto-start moto-stop

test:
	scripts/test.sh $(ARGS)

tools:
	scripts/tools.sh

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

lint-infra: tools
	scripts/lint-infra.sh

moto-start: tools
	scripts/moto.sh start

moto-stop:
	scripts/moto.sh stop
