//! Bad input never panics the parser: any JSON value gives a request or a 400 with an error code.

use execution_core::api::{parse_any_request, parse_request, Operation};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const E: &str = "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00";
const P: &str = "0d9b7c6a-1111-4222-8333-944455556666";

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        Just(json!(E)),
        Just(json!(P)),
        Just(json!("drsjob-04ca7d0d3fb6afa3e")),
        prop::sample::select(vec![
            "find", "poll", "finalize", "pause", "resume", "launch", "cancel", "advance", "POLL",
            ""
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Keys biased towards the ones the parser reads.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "operation",
            "executionId",
            "planId",
            "taskToken",
            "summary",
            "jobId",
            "sourceServerId"
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z]{0,12}",
    ]
}

fn check(result: Result<execution_core::api::Request, execution_core::OperationError>) {
    if let Err(e) = result {
        assert_eq!(e.status_code(), 400, "{e}");
        assert!(
            matches!(e.code(), "MISSING_PARAMETER" | "INVALID_PARAMETER"),
            "{}",
            e.code()
        );
        assert!(!e.to_string().is_empty());
        assert!(
            e.to_string().len() < 512,
            "messages stay short whatever the input"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_json_is_a_request_or_a_400(v in arb_json()) {
        for op in Operation::ALL {
            check(parse_request(op, &v));
        }
        check(parse_any_request(&v));
    }

    #[test]
    fn any_field_values_are_a_request_or_a_400(op in prop::sample::select(Operation::ALL.to_vec()), e in arb_json(), p in arb_json(), t in arb_json()) {
        let payload = json!({"executionId": e, "planId": p, "taskToken": t});
        check(parse_request(op, &payload));
    }

    #[test]
    fn huge_strings_are_refused_cleanly(len in 1_000usize..200_000) {
        let big = "x".repeat(len);
        for op in Operation::ALL {
            check(parse_request(op, &json!({"operation": big, "executionId": big, "planId": big, "taskToken": big})));
        }
    }
}

#[test]
fn valid_payloads_parse_for_every_operation() {
    for op in Operation::ALL {
        let r = parse_request(
            op,
            &json!({"operation": op.as_str(), "executionId": E, "planId": P, "waveNumber": 0,
                "jobId": "drsjob-04ca7d0d3fb6afa3e",
                "plan": {"planId": P, "waves": [{"servers": [{"sourceServerId": "s-1234567890abcdef0"}]}]}}),
        )
        .unwrap();
        assert_eq!(r.operation(), op);
    }
}
