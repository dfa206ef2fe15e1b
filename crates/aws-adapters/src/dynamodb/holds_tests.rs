use execution_core::fixtures;

use super::*;

fn hold(n: usize) -> ServerHold {
    ServerHold {
        source_server_id: fixtures::server(n),
        execution_id: fixtures::execution_id(),
        since: Timestamp(1_714_557_600),
    }
}

#[test]
fn a_hold_item_is_its_keys_holder_and_since_only_and_reads_back() {
    let h = hold(3);
    let item = hold_item(&h);
    let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["executionId", "holder", "since", "sk"]);
    assert_eq!(
        item[PK],
        AttributeValue::S(format!("SERVER#{}", fixtures::server(3)))
    );
    assert_eq!(item[SK], AttributeValue::S("HOLD".into()));
    assert_eq!(item[SINCE], AttributeValue::N("1714557600".into()));
    // Neither index key: a hold never enters the status index.
    assert!(!item.contains_key(codec::STATUS) && !item.contains_key(codec::CREATED_TIME));
    assert_eq!(decode_hold_item(&item), Ok(h));
}

#[test]
fn an_unreadable_hold_item_is_corrupt_and_names_its_key() {
    let good = hold_item(&hold(1));
    let pk = format!("SERVER#{}", fixtures::server(1));
    let with = |name: &str, value: Option<AttributeValue>| {
        let mut item = good.clone();
        match value {
            Some(v) => item.insert(name.to_owned(), v),
            None => item.remove(name),
        };
        item
    };
    let cases = [
        (with(HOLDER, None), "holder"),
        (with(HOLDER, Some(codec::s("not-an-execution"))), "holder"),
        (with(HOLDER, Some(AttributeValue::N("1".into()))), "holder"),
        (with(SINCE, None), "since"),
        (with(SINCE, Some(AttributeValue::N("soon".into()))), "since"),
        (with(SINCE, Some(codec::s("1"))), "since"),
    ];
    for (item, word) in cases {
        match decode_hold_item(&item) {
            Err(StoreError::Corrupt(m)) => {
                assert!(m.contains(&pk) && m.contains(word), "{m}");
            }
            other => panic!("{word}: expected Corrupt, got {other:?}"),
        }
    }
    for (pk, word) in [
        (codec::s("SERVER#s-1"), "SERVER#s-1"),
        (codec::s(fixtures::execution_id().to_string()), "SERVER#"),
        (AttributeValue::N("1".into()), PK),
    ] {
        match decode_hold_item(&with(PK, Some(pk))) {
            Err(StoreError::Corrupt(m)) => assert!(m.contains(word), "{m}"),
            other => panic!("{word}: expected Corrupt, got {other:?}"),
        }
    }
    assert!(matches!(
        decode_hold_item(&with(PK, None)),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn a_claim_is_conditioned_on_free_or_the_claimant_or_the_hold_it_replaces() {
    let mut claim = HoldClaim {
        hold: hold(0),
        replaces: None,
    };
    let e = claim_condition(&claim);
    assert_eq!(
        e.condition,
        "attribute_not_exists(#pk) OR #holder = :claimant"
    );
    assert_eq!(e.values.len(), 1);
    assert_eq!(
        e.values[":claimant"],
        codec::s(fixtures::execution_id().to_string())
    );
    let old = ExecutionId::new_random();
    claim.replaces = Some(old);
    let e = claim_condition(&claim);
    assert_eq!(
        e.condition,
        "attribute_not_exists(#pk) OR #holder = :claimant OR #holder = :replaces"
    );
    assert_eq!(e.values[":replaces"], codec::s(old.to_string()));
    assert_eq!(e.names["#holder"], HOLDER);
    assert_eq!(e.names["#pk"], PK);
}

#[test]
fn distinct_keeps_each_server_once_in_order() {
    let servers = [
        fixtures::server(2),
        fixtures::server(1),
        fixtures::server(2),
        fixtures::server(0),
        fixtures::server(1),
    ];
    let kept: Vec<_> = distinct(&servers).into_iter().cloned().collect();
    assert_eq!(
        kept,
        [
            fixtures::server(2),
            fixtures::server(1),
            fixtures::server(0)
        ]
    );
}
