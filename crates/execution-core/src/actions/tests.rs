use super::*;

#[test]
fn placeholder_names_are_known() {
    assert_eq!(
        Placeholder::parse("instanceIds"),
        Some(Placeholder::InstanceIds)
    );
    assert_eq!(Placeholder::parse("nope"), None);
}
